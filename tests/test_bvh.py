"""BVH writer: parsed back by bvhio, forward kinematics must reproduce the joints."""
import bvhio
import numpy as np
import pytest

from app.bvh import write_bvh
from lifter.skeleton import JOINTS, PARENTS
from tests.bvh_check import bvh_joint_positions, random_motion, retarget


def test_fk_reproduces_constant_length_motion(tmp_path):
    X = random_motion(40, np.random.default_rng(0))
    path = tmp_path / "m.bvh"
    assert write_bvh(path, X, fps=25) == 40
    bvh = bvhio.readAsBvh(str(path))
    assert bvh.FrameCount == 40 and bvh.FrameTime == pytest.approx(1 / 25, abs=1e-6)
    assert bvh.Root.Name == "pelvis"
    assert np.abs(bvh_joint_positions(path) - X).max() < 0.001  # 1 mm


def test_varying_lengths_keep_directions_and_median_lengths(tmp_path):
    X = random_motion(30, np.random.default_rng(1), length_noise_m=0.01)
    path = tmp_path / "m.bvh"
    write_bvh(path, X, fps=30)
    fk = bvh_joint_positions(path)
    assert np.abs(fk - retarget(X)).max() < 0.002
    assert np.abs(fk[:, 0] - X[:, 0]).max() < 0.001  # root translation is exact
    for c, p in enumerate(PARENTS):
        if p >= 0:
            a, b = fk[:, c] - fk[:, p], X[:, c] - X[:, p]
            cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
            assert cos.min() > np.cos(np.radians(0.1)), JOINTS[c]


def test_y_up_and_nan_frames_held(tmp_path):
    X = random_motion(10, np.random.default_rng(2))
    X[[0, 4, 5]] = np.nan
    path = tmp_path / "m.bvh"
    write_bvh(path, X, fps=30)
    root = bvhio.readAsHierarchy(str(path))
    root.loadPose(1)
    by_name = {j.Name: j for j, _, _ in root.layout()}
    for axis, sign in ((0, 1), (1, -1), (2, -1)):  # camera y down / z forward -> Y up, Z back
        assert by_name["head"].PositionWorld[axis] == pytest.approx(sign * X[1, 10, axis], abs=1e-3)
    fk = bvh_joint_positions(path)
    np.testing.assert_allclose(fk[0], X[1], atol=1e-3)   # leading gap back-filled
    np.testing.assert_allclose(fk[4], X[3], atol=1e-3)   # later gaps hold the last pose
    np.testing.assert_allclose(fk[5], X[3], atol=1e-3)


def test_no_valid_frame_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no frame has a complete 3D skeleton"):
        write_bvh(tmp_path / "m.bvh", np.full((3, 17, 3), np.nan), fps=30)


def test_per_frame_lengths_reproduce_wobbling_bones_exactly(tmp_path):
    X = random_motion(30, np.random.default_rng(3), length_noise_m=0.04)
    path = tmp_path / "m.bvh"
    write_bvh(path, X, fps=30, bone_lengths="per-frame")
    assert np.abs(bvh_joint_positions(path) - X).max() < 0.001
    with pytest.raises(ValueError, match="bone lengths 'mean'"):
        write_bvh(path, X, fps=30, bone_lengths="mean")
