"""The two BVH rigs (Daz figure, iClone CC3) read through their mapping tables, checked on
the real files against the figures in their READMEs."""
import numpy as np
import pytest

from lifter.data import read_raw_folder, read_rig_bvh
from lifter.mocap.rigs import DAZ, ICLONE
from lifter.skeleton import JOINTS

J = {n: i for i, n in enumerate(JOINTS)}


def _len_cm(P, a, b):
    return 100 * np.linalg.norm(P[a] - P[b], axis=-1)


def test_daz_rig_matches_readme(shared):
    m, rig = read_rig_bvh(str(shared / "data" / "cmu-daz-bvh" / "07_03.bvh.gz"))
    assert rig is DAZ and m.fps == pytest.approx(120, rel=1e-3)
    P = m.positions
    for (a, b), cm in ((("rThigh", "rShin"), 36.83), (("rShin", "rFoot"), 45.41), (("rShldr", "rForeArm"), 28.23),
                       (("rForeArm", "rHand"), 23.68), (("lThigh", "rThigh"), 17.56)):
        assert _len_cm(P, a, b) == pytest.approx(np.full(m.frames, cm), abs=0.05), (a, b)
    toes = np.minimum(P["lFoot_end"][:, 1], P["rFoot_end"][:, 1])
    assert 100 * (P["hip"][0, 1] - toes[0]) == pytest.approx(83.1, abs=0.1)    # rest pose
    assert 100 * (P["head"][0, 1] - toes[0]) == pytest.approx(144.8, abs=0.1)
    assert 100 * (P["head"][1, 1] - toes[1]) == pytest.approx(145.6, abs=0.1)  # first standing frame


def test_iclone_rig_matches_readme(shared):
    d = shared / "data" / "cmu-iclone-bvh"
    m, rig = read_rig_bvh(str(d / "02_06.bvh.gz"))
    assert rig is ICLONE and m.fps == pytest.approx(60, rel=1e-3) and m.frames == 1118
    P = m.positions
    for (a, b), cm in ((("CC_Base_L_Thigh", "CC_Base_L_Calf"), 47.67), (("CC_Base_L_Calf", "CC_Base_L_Foot"), 49.82),
                       (("CC_Base_L_Upperarm", "CC_Base_L_Forearm"), 25.21),
                       (("CC_Base_L_Forearm", "CC_Base_L_Hand"), 25.71), (("CC_Base_L_Thigh", "CC_Base_R_Thigh"), 19.4)):
        assert np.median(_len_cm(P, a, b)) == pytest.approx(cm, abs=0.1), (a, b)
    feet = [f"CC_Base_{s}_{j}" for s in "LR" for j in ("Foot", "ToeBase")]
    floor = np.min([P[f][:, 1] for f in feet], axis=0)
    hips = 50 * (P["CC_Base_L_Thigh"][:, 1] + P["CC_Base_R_Thigh"][:, 1]) - 100 * floor
    # the README's --check samples 60 frames per take (every len // 60-th)
    assert hips[::len(hips) // 60].min() == pytest.approx(48.6, abs=0.1)  # bend over, scoop up
    assert 45 < hips.min() <= 48.6
    assert 94 < np.percentile(hips, 95) < 101           # standing


def test_rig_takes_become_17_plausible_joints(shared):
    for folder in ("cmu-daz-bvh", "cmu-iclone-bvh"):
        trials = read_raw_folder(str(shared / "data" / folder))
        assert len(trials) == (12 if folder == "cmu-daz-bvh" else 35)
        assert all(t.fps == pytest.approx(30, rel=0.01) for t in trials)  # 120 and 60 fps both to 30
        walk = next(t for t in trials if t.name in ("07_03", "02_04")).points
        up = np.median(walk[:, :, 1] - walk[:, :1, 1], axis=0)
        # standing order from the feet up, the face markers (17..21) between thorax and head top
        assert up[J["right_ankle"]] < up[J["right_knee"]] < 0 < up[J["spine"]] < up[J["thorax"]] < up[J["head"]]
        assert up[J["left_wrist"]] < up[J["left_elbow"]] < up[J["left_shoulder"]]
        assert (up[J["thorax"]] < up[17:22]).all() and (up[17:22] < up[J["head"]]).all()


def test_seated_hips_of_the_playground_take(shared):
    m, _ = read_rig_bvh(str(shared / "data" / "cmu-iclone-bvh" / "01_08.bvh.gz"))
    P = m.positions
    feet = [f"CC_Base_{s}_{j}" for s in "LR" for j in ("Foot", "ToeBase")]
    floor = np.min([P[f][:, 1] for f in feet], axis=0)
    hips = 50 * (P["CC_Base_L_Thigh"][:, 1] + P["CC_Base_R_Thigh"][:, 1]) - 100 * floor
    assert hips[::len(hips) // 60].min() == pytest.approx(17.1, abs=0.1)  # the README's 60-frame sample
    assert 10 < hips.min() <= 17.1
