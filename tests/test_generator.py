"""The training-sample generator: geometry, chirality, flips, noise, camera coverage."""
import numpy as np
import pytest

from lifter.camera import project
from lifter.data import load_trials
from lifter.generator import AugmentConfig, batch_intrinsics, make_pool, sample
from lifter.skeleton import JOINTS

J = {n: i for i, n in enumerate(JOINTS)}


@pytest.fixture(scope="module")
def pool(shared):
    return make_pool(load_trials([str(shared / "data" / "cmu-bvh")]))


def test_clean_samples_project_onto_their_2d(pool):
    b = sample(pool, 200, np.random.default_rng(0), AugmentConfig(h36m_input_prob=1.0), augment=True, noise=False)
    b2 = sample(pool, 200, np.random.default_rng(0), AugmentConfig(flip=False), augment=False, noise=False)
    intr = batch_intrinsics(b2)
    px = project(b2["target_m"] + b2["root_m"][:, None], intr)
    # limbs are input joints taken one-to-one from COCO markers at the same places
    for name in ("left_knee", "right_ankle", "left_wrist", "right_elbow"):
        np.testing.assert_allclose(px[:, J[name]], b2["keypoints_px"][:, J[name]], atol=1e-3)
    assert np.isfinite(b["x"]).all() and np.abs(b["target_m"][:, 0]).max() < 1e-6
    # every point inside its image
    assert (b2["keypoints_px"] >= 0).all() and (b2["keypoints_px"] <= b2["size"][:, None]).all()


def test_chirality_is_preserved(pool):
    """A body facing the camera shows its left shoulder on the image's right."""
    b = sample(pool, 400, np.random.default_rng(1), augment=False, noise=False)
    t = b["target_m"]
    left = t[:, J["left_hip"]] - t[:, J["right_hip"]]
    up = t[:, J["thorax"]] - t[:, J["pelvis"]]
    facing = np.cross(left, up)  # body forward = left x up (a rotation keeps cross products)
    towards_camera = facing[:, 2] < -0.5 * np.linalg.norm(facing, axis=-1)
    assert towards_camera.sum() > 20
    kp = b["keypoints_px"][towards_camera]
    assert (kp[:, J["left_shoulder"], 0] > kp[:, J["right_shoulder"], 0]).mean() > 0.95


def test_flip_keeps_geometry_consistent(pool):
    b = sample(pool, 300, np.random.default_rng(2), AugmentConfig(h36m_input_prob=1.0, noise_frac=(0, 0), outlier_prob=0),
               augment=True, noise=True)
    intr = batch_intrinsics(b)
    px = project(b["target_m"] + b["root_m"][:, None], intr)
    # with Human3.6M-layout input the limb joints are projections of the targets, flipped or not
    np.testing.assert_allclose(px[:, J["left_wrist"]], b["keypoints_px"][:, J["left_wrist"]], atol=1e-2)


def test_cameras_and_noise_cover_the_range(pool):
    b = sample(pool, 2000, np.random.default_rng(3))
    hfov = np.degrees(2 * np.arctan(0.5 * np.maximum(b["size"][:, 0], 0.75 * b["size"][:, 1]) / b["f"]))
    assert hfov.min() < 45 and hfov.max() > 90
    depth = b["root_m"][:, 2]
    assert depth.min() < 2.5 and depth.max() > 8
    assert (b["scores"] < 0.5).mean() > 0.005  # outliers come with low scores
    assert len({tuple(s) for s in b["size"].astype(int)}) >= 5
