"""Synthesised poses on the real files: recombination joins one body at the pelvis with a
consistent trunk, hands reach the face or a table, every synthesised pose stays inside the
joint-limit table, retargeting keeps the joint rotations, lab cameras are where labs put
them, and validation takes never reach training."""
import numpy as np
import pytest

from lifter.data import load_trials, split_validation
from lifter.generator import AugmentConfig, make_pool, synthesise
from lifter.lab_cameras import lab_cameras, lab_view
from lifter.mocap.h36m_targets import TEMPLATE_MM, bone_lengths_mm
from lifter.mocap.joint_limits import LIMITS_DEG, joint_angles, within_limits
from lifter.mocap.synthesis import LOWER, perturb_bones, reach, recombine, retarget
from lifter.skeleton import JOINTS, PARENTS

J = {n: i for i, n in enumerate(JOINTS)}
VAL = {"14", "55", "HDM_tr", "bvh_75_19", "02_10"}


@pytest.fixture(scope="module")
def data(shared):
    folders = [str(shared / "data" / f) for f in ("cmu-mocap", "hdm05-subset", "cmu-bvh", "cmu-iclone-bvh")]
    train, val = split_validation(load_trials(folders), VAL)
    return make_pool(train), train, val


def _lean(p):
    d = p[:, J["thorax"]] - p[:, J["pelvis"]]
    return np.degrees(np.arccos(d[:, 1] / np.linalg.norm(d, axis=-1)))


def test_validation_takes_never_reach_training(data):
    pool, train, val = data
    assert {t.subject for t in val} >= {"14", "55", "HDM_tr", "bvh_75_19"} and any(t.name == "02_10" for t in val)
    assert not any(t.subject in VAL or t.name in VAL for t in train)
    # no validation frame is in the pool, nor among the recombination sources
    val_pts = np.concatenate([t.points - t.points[:, :1] for t in val])[::7]
    keys = {tuple(np.round(p[[3, 13, 10]].ravel(), 4)) for p in pool.points}
    assert not any(tuple(np.round(p[[3, 13, 10]].ravel(), 4)) in keys for p in val_pts)
    assert pool.legs.max() < len(pool.points)


def test_recombination_joins_one_body_at_the_pelvis(data):
    pool, _, _ = data
    rng = np.random.default_rng(0)
    legs = pool.points[pool.legs[rng.integers(len(pool.legs), size=300)]].astype(np.float64)
    upper = pool.points[rng.integers(len(pool.points), size=300)].astype(np.float64)
    out = recombine(legs, upper)
    np.testing.assert_allclose(out[:, LOWER], legs[:, LOWER], atol=1e-6)  # the legs as captured
    np.testing.assert_allclose(_lean(out), _lean(upper), atol=1e-6)        # the trunk's own lean
    # the upper body turned onto the legs' hip axis: its facing and the legs' agree horizontally
    hips = out[:, J["right_hip"]] - out[:, J["left_hip"]]
    shoulders = out[:, J["right_shoulder"]] - out[:, J["left_shoulder"]]
    h = lambda v: v[:, [0, 2]] / np.linalg.norm(v[:, [0, 2]], axis=-1, keepdims=True)
    assert np.median((h(hips) * h(shoulders)).sum(-1)) > 0.9
    # pelvis at the hip midpoint; after retargeting onto one body every bone has its length
    np.testing.assert_allclose(out[:, 0], 0.5 * (out[:, J["left_hip"]] + out[:, J["right_hip"]]), atol=1e-6)
    one = synthesise(upper, pool.body[:300].astype(np.float64), pool, rng, AugmentConfig(recombine_prob=1.0))
    lengths = bone_lengths_mm(one[:, :17])
    ratio = lengths[:, 1:3] / np.array([TEMPLATE_MM["right_knee"][2], TEMPLATE_MM["right_ankle"][2]])
    assert np.ptp(ratio, axis=1).max() < 0.2  # thigh and shin of one build, not two people's


def test_synthesised_poses_stay_inside_the_joint_limits(data):
    pool, _, _ = data
    rng = np.random.default_rng(1)
    idx = rng.integers(len(pool.points), size=2000)
    src = pool.points[idx].astype(np.float64)
    ok_src = within_limits(src[:, :17])
    cfg = AugmentConfig(recombine_prob=0.4, retarget_prob=0.5, reach_prob=0.4, perturb_prob=0.5)
    out = synthesise(src, pool.body[idx].astype(np.float64), pool, rng, cfg)
    changed = np.any(np.abs(out - src) > 1e-9, axis=(1, 2))
    assert changed.mean() > 0.5
    assert within_limits(out[changed, :17]).all()
    a = joint_angles(out[changed, :17])
    for name, (lo, hi) in LIMITS_DEG.items():
        assert a[name].min() >= lo - 10 and a[name].max() <= hi + 10, name
    assert ok_src.mean() > 0.9  # the captures themselves mostly respect the table


def test_hands_reach_the_face_and_the_table(data):
    pool, _, _ = data
    rng = np.random.default_rng(2)
    src = pool.points[rng.integers(len(pool.points), size=500)].astype(np.float64)
    face = reach(src, "right", "face", rng)
    d = np.linalg.norm(face[:, J["right_wrist"]] - face[:, J["neck_nose"]], axis=-1)
    assert np.median(d) < 0.15
    table = reach(src, "left", "table", rng)
    above = table[:, J["left_wrist"], 1] - table[:, J["pelvis"], 1]
    assert np.median(above) > -0.05 and np.median(above) < 0.35
    for p in (face, table):  # the arm keeps its bone lengths; nothing else moves
        np.testing.assert_allclose(bone_lengths_mm(p[:, :17]), bone_lengths_mm(src[:, :17]), rtol=1e-6)
    np.testing.assert_allclose(face[:, J["left_wrist"]], src[:, J["left_wrist"]])


def test_retargeting_keeps_joint_rotations(data):
    pool, _, _ = data
    rng = np.random.default_rng(3)
    src = pool.points[rng.integers(len(pool.points), size=200)].astype(np.float64)
    factor = rng.uniform(0.85, 1.15, (200, src.shape[1]))
    out = retarget(src, factor)
    bone = lambda p: p[:, 1:17] - p[:, list(PARENTS[1:])]
    a, b = bone(src), bone(out)
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    np.testing.assert_allclose(cos, 1.0, atol=1e-9)  # every bone keeps its direction
    np.testing.assert_allclose(np.linalg.norm(b, axis=-1), np.linalg.norm(a, axis=-1) * factor[:, 1:17], rtol=1e-9)
    turned = perturb_bones(src, rng)
    np.testing.assert_allclose(bone_lengths_mm(turned[:, :17]), bone_lengths_mm(src[:, :17]), rtol=1e-6)


def test_lab_cameras_are_placed_as_in_a_lab(data):
    pool, _, _ = data
    rng = np.random.default_rng(4)
    pts = pool.points[rng.integers(len(pool.points), size=1000)].astype(np.float64)
    f, c, size = lab_cameras(1000, rng)
    cam, px, ok = lab_view(pts, rng, f, c, size)
    assert ok.mean() > 0.95 and np.all((1100 <= f) & (f <= 1200)) and (size == 1000).all()
    dist = np.linalg.norm(cam[:, 0, [0, 2]], axis=-1)
    assert 2.8 < dist.min() and dist.max() < 7.6
    # camera y axis points down: the head is above the ankles in every image
    assert (px[ok, J["head"], 1] < px[ok][:, [J["left_ankle"], J["right_ankle"]], 1].min(-1)).mean() > 0.9
