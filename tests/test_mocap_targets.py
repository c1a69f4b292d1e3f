"""Training targets in Human3.6M's definitions, on the real files of every source: bone
lengths within 3 % and placements within 15 mm of the Human3.6M facts (after dividing out
the body's own size), body sizes that still vary, and the input markers untouched."""
import numpy as np
import pytest

from lifter.data import load_trials, read_raw_folder
from lifter.mocap.h36m_targets import HEAD_TOP_ABOVE_ANKLES_MM, TEMPLATE_MM, bone_lengths_mm, local_offsets
from lifter.skeleton import JOINTS, PARENTS

J = {n: i for i, n in enumerate(JOINTS)}
# one body per source (an ASF subject, or every take of a rig's figure)
SOURCES = {"cmu-mocap": {"16"}, "hdm05-subset": {"HDM_bd"}, "cmu-bvh": None, "cmu-daz-bvh": None,
           "cmu-iclone-bvh": None}


@pytest.fixture(scope="module")
def trials(shared):
    return {f: load_trials([str(shared / "data" / f)], subjects=s) for f, s in SOURCES.items()}


@pytest.mark.parametrize("folder", list(SOURCES))
def test_proportions_and_placements_match_h36m(trials, folder):
    ts = trials[folder]
    pts = np.concatenate([t.points[:, :17] for t in ts]).astype(np.float64)
    body = ts[0].body
    lengths = np.median(bone_lengths_mm(pts), axis=0) / body[1:]
    for i, name in enumerate(JOINTS[1:]):
        anchor, place, mm = TEMPLATE_MM[name]
        if PARENTS[J[name]] == J[anchor]:  # the bone is the template's own
            assert lengths[i] == pytest.approx(mm, rel=0.03), name
    for name, off in local_offsets(pts).items():
        want = np.array(TEMPLATE_MM[name][1], float)
        got = np.median(off, axis=0) * 1000 / body[J[name]]
        np.testing.assert_allclose(got, want / np.linalg.norm(want) * TEMPLATE_MM[name][2], atol=15, err_msg=name)
    hips = np.linalg.norm(pts[:, J["right_hip"]] - pts[:, J["left_hip"]], axis=-1) * 1000
    np.testing.assert_allclose(hips, 270 * body[J["right_hip"]], rtol=1e-4)  # hip width 271 mm, scaled


@pytest.mark.parametrize("folder, take", [("cmu-daz-bvh", "07_03"), ("cmu-iclone-bvh", "02_04")])
def test_standing_height_of_rig_walks(trials, folder, take):
    p = next(t for t in trials[folder] if t.name == take).points
    above = 1000 * (p[:, J["head"], 1] - p[:, [J["left_ankle"], J["right_ankle"]], 1].min(1))
    # Human3.6M's 1479 mm is a median over all its frames (sitting and bending included):
    # upright walking on the same proportions stands a little taller
    assert HEAD_TOP_ABOVE_ANKLES_MM - 20 < np.median(above) < HEAD_TOP_ABOVE_ANKLES_MM + 60


def test_body_sizes_still_vary_and_rigs_get_the_mean(shared):
    ts = load_trials([str(shared / "data" / "cmu-mocap"), str(shared / "data" / "cmu-daz-bvh")])
    thighs = {t.figure: t.body[J["left_knee"]] for t in ts}
    assert thighs["daz"] == 1.0
    real = np.array([v for k, v in thighs.items() if k.startswith("asf_")])
    assert len(real) == 12 and real.std() > 0.03 and 0.8 < real.min() and real.max() < 1.2


def test_input_markers_move_with_their_joints(shared):
    folder = str(shared / "data" / "cmu-daz-bvh")
    raw = read_raw_folder(folder)[0].points
    new = next(t for t in load_trials([folder]) if t.name == read_raw_folder(folder)[0].name).points
    # COCO wrist = output wrist on both; face markers keep their place relative to the head top
    np.testing.assert_allclose(new[:, 17 + 9], new[:, J["left_wrist"]], atol=1e-5)
    np.testing.assert_allclose(new[:, 17] - new[:, J["head"]], raw[:, 17] - raw[:, J["head"]], atol=1e-5)
