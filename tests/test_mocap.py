"""Mocap readers on the real files, checked against the figures in the data READMEs
and (BVH) against the independent bvhio package."""
import os

import numpy as np
import pytest

from lifter.data import read_folder
from lifter.mocap.points import motion_points
from lifter.mocap.rigs import ASF as ASF_MAP
from lifter.mocap.asf import asf_amc_motion, read_asf
from lifter.mocap.bvh import read_bvh
from lifter.mocap.motion import MocapError
from lifter.skeleton import JOINTS


def _len(P, a, b):
    return np.linalg.norm(P[a] - P[b], axis=-1)


def test_cmu_asf_amc_matches_readme_figures(shared):
    d = shared / "data" / "cmu-mocap"
    m = asf_amc_motion(d / "asf" / "16.asf", d / "amc" / "16_31.amc")
    P = m.positions
    assert _len(P, "lfemur", "lhipjoint").mean() == pytest.approx(0.400, abs=0.01)
    assert _len(P, "ltibia", "lfemur").mean() == pytest.approx(0.435, abs=0.01)
    assert _len(P, "lhumerus", "lclavicle").mean() == pytest.approx(0.295, abs=0.01)
    assert _len(P, "lradius", "lhumerus").mean() == pytest.approx(0.212, abs=0.01)
    for a, b in (("lfemur", "lhipjoint"), ("rtibia", "rfemur"), ("head", "upperneck")):
        assert _len(P, a, b).std() < 1e-9  # rigid bones do not stretch
    floor = np.minimum(P["ltoes"][:, 1], P["rtoes"][:, 1]).min()
    assert np.median(P["root"][:, 1]) - floor == pytest.approx(0.98, abs=0.03)
    above = lambda n: np.median(P[n][:, 1] - P["root"][:, 1]) * 1000
    for name, mm in (("upperback", 240), ("lowerneck", 454), ("upperneck", 548), ("head", 639), ("lclavicle", 423)):
        assert above(name) == pytest.approx(mm, abs=8), name


def test_hdm05_squat_reaches_low_pelvis(shared):
    d = shared / "data" / "hdm05-subset"
    m = asf_amc_motion(d / "asf" / "HDM_bd.asf", d / "amc" / "HDM_bd_squat1Reps_001_120.amc")
    P = m.positions
    assert 0.38 < _len(P, "lfemur", "lhipjoint").mean() < 0.43
    floor = np.minimum(P["ltoes"][:, 1], P["rtoes"][:, 1]).min()
    pelvis = 0.5 * (P["lhipjoint"][:, 1] + P["rhipjoint"][:, 1]) - floor
    assert pelvis.max() > 0.8 and pelvis.min() < 0.55  # standing, then a deep squat


def test_bvh_reader_agrees_with_bvhio(shared):
    import bvhio
    path = shared / "data" / "cmu-bvh" / "75_19.bvh"
    ours = read_bvh(str(path), unit_m=1.0)
    assert ours.frames == 769 and ours.fps == pytest.approx(120, rel=1e-3)
    root = bvhio.readAsHierarchy(str(path))
    for frame in (0, 250, 600):
        root.loadPose(frame)
        for joint, *_ in root.layout():
            np.testing.assert_allclose(np.array(joint.PositionWorld), ours.positions[joint.Name][frame], atol=1e-3)


def test_bvh_sitting_figures(shared):
    m = read_bvh(str(shared / "data" / "cmu-bvh" / "75_19.bvh"))
    P = m.positions
    assert _len(P, "LeftLeg", "LeftUpLeg").mean() == pytest.approx(0.42, abs=0.01)
    floor = np.minimum(P["LeftToeBase"][:, 1], P["RightToeBase"][:, 1]).min()
    assert (P["Head_end"][0, 1] - floor) == pytest.approx(1.52, abs=0.03)
    hips = 0.5 * (P["LeftUpLeg"][:, 1] + P["RightUpLeg"][:, 1]) - floor
    assert hips.min() < 0.45  # seated on a low seat


def test_training_points_follow_h36m_definitions(shared):
    d = shared / "data" / "cmu-mocap"
    pts = motion_points(asf_amc_motion(d / "asf" / "16.asf", d / "amc" / "16_31.amc"), ASF_MAP)
    j = {n: i for i, n in enumerate(JOINTS)}
    rel = pts[:, :17] - pts[:, :1]
    # pelvis is the hip midpoint, not the mocap root
    np.testing.assert_allclose(pts[:, 0], 0.5 * (pts[:, j["left_hip"]] + pts[:, j["right_hip"]]), atol=1e-6)
    up = np.median(rel[:, :, 1], axis=0)
    assert up[j["spine"]] < up[j["thorax"]] < up[j["head"]]
    assert up[j["neck_nose"]] > up[j["thorax"]]
    # joint 9 sits in front of the thorax (facing direction from the hips and the up axis)
    left = rel[:, j["left_hip"]] - rel[:, j["right_hip"]]
    fwd = np.cross(left, [0, 1, 0])
    fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True)
    ahead = ((rel[:, j["neck_nose"]] - rel[:, j["thorax"]]) * fwd).sum(-1)
    assert 0.04 < np.median(ahead) < 0.13
    nose = pts[:, 17]  # COCO nose marker lies below the eyes and above the thorax
    assert np.median(nose[:, 1] - pts[:, j["thorax"], 1]) > 0.02


@pytest.mark.parametrize("content, message", [
    (":version 1.10\n:root\n order TX\n", "no :bonedata"),
    (None, "not found"),
])
def test_bad_asf_is_a_one_line_error(tmp_path, content, message):
    path = tmp_path / "bad.asf"
    if content is not None:
        path.write_text(content)
    with pytest.raises(MocapError) as e:
        read_asf(str(path))
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_bad_amc_and_bvh_are_one_line_errors(tmp_path, shared):
    asf = shared / "data" / "cmu-mocap" / "asf" / "16.asf"
    amc = tmp_path / "bad.amc"
    amc.write_text(":FULLY-SPECIFIED\n1\nroot 0 0 0 0 0 0\nlfemur 1 two 3\n")
    with pytest.raises(MocapError, match="non-numeric"):
        asf_amc_motion(asf, amc)
    bvh = tmp_path / "bad.bvh"
    bvh.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n}\n"
                   "MOTION\nFrames: 2\nFrame Time: 0.1\n0 0 0\n")
    with pytest.raises(MocapError, match="expected 2 frames x 3 channels"):
        read_bvh(str(bvh))
    with pytest.raises(MocapError, match="no .amc or .bvh"):
        read_folder(str(_empty(tmp_path)))


def _empty(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d


def test_cache_key_covers_every_module_that_shapes_the_points(tmp_path, shared):
    import subprocess
    import sys

    from lifter.data import CACHE_DIR, CACHE_MODULES, LIFTER_DIR, load_trials
    assert CACHE_DIR == os.path.join(os.path.dirname(LIFTER_DIR), ".cache", "mocap")  # not the current directory
    code = ("import sys, lifter.data; print('\\n'.join(m.__file__ for n, m in sys.modules.items() "
            "if n.split('.')[0] == 'lifter'))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    rel = {str(__import__("pathlib").Path(f).relative_to(LIFTER_DIR)) for f in loaded}
    assert rel <= set(CACHE_MODULES)
    # the cache lives under the repository, wherever the process runs, and is reused
    folder = str(shared / "data" / "cmu-bvh")
    first = load_trials([folder], cache_dir=str(tmp_path))
    assert len(list(tmp_path.glob("cmu-bvh-*.npz"))) == 1
    again = load_trials([folder], cache_dir=str(tmp_path))
    np.testing.assert_array_equal(first[0].points, again[0].points)
    assert first[0].figure == again[0].figure and (first[0].body == again[0].body).all()
