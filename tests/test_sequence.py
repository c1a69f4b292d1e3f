"""uao-sequence: one person's consecutive frames refined together (lifter/refine/sequence.py,
live.py). Synthetic sequences of a known skeleton; small random lifters where a network
is needed (these tests check the refiner's behaviour, not the shipped weights)."""
import inspect
from dataclasses import replace

import numpy as np
import pytest
import torch

from lifter.camera import intrinsics_from_fov, project
from lifter.model import GUMLP
from lifter.refine import FrameProblem, RefineOptions, SequenceRefiner, lift
from lifter.refine.sequence import bone_lengths, initial_bones, solve_window
from lifter.skeleton import BONES, PARENTS

INTR = intrinsics_from_fov(1280, 720)
TRUE_BONES = np.array([.13, .45, .44, .13, .45, .44, .24, .25, .1, .12, .15, .28, .25, .15, .28, .25])
REST = np.array([[0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, -1, 0],
                 [0, -1, 0], [0, -1, .3], [0, -1, 0], [1, -.2, 0], [0, 1, .3], [0, 1, .2], [-1, -.2, 0],
                 [0, 1, .3], [0, 1, .2]], float)  # direction of each joint from its parent


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GUMLP(width=64, blocks=1).eval()


def skeleton_sequence(T, lengths=None, seed=0):
    """(T, 17, 3) root-relative poses of one skeleton moving smoothly (limbs swinging, the
    body turning), bone lengths `lengths` (T, 16) or TRUE_BONES, and roots (T, 3)."""
    rng = np.random.default_rng(seed)
    lengths = np.broadcast_to(TRUE_BONES, (T, 16)) if lengths is None else lengths
    phase = rng.uniform(0, 2 * np.pi, 17)
    t = np.arange(T)[:, None]
    d = np.broadcast_to(REST, (T, 17, 3)).copy()
    d[..., 2] += 0.6 * np.sin(0.08 * t + phase)            # limbs swing in depth
    d /= np.linalg.norm(d, axis=-1, keepdims=True) + 1e-12
    yaw = 0.01 * t[:, 0]
    R = np.stack([np.stack([np.cos(yaw), 0 * yaw, np.sin(yaw)], -1), np.stack([0 * yaw, 1 + 0 * yaw, 0 * yaw], -1),
                  np.stack([-np.sin(yaw), 0 * yaw, np.cos(yaw)], -1)], -2)
    d = np.einsum("tij,tkj->tki", R, d)
    pose = np.zeros((T, 17, 3))
    for k, (p, c) in enumerate(BONES):
        pose[:, c] = pose[:, p] + d[:, c] * lengths[:, k:k + 1]
    root = np.stack([0.3 + 0.01 * t[:, 0], 0.1 + 0 * yaw, 4.5 - 0.005 * t[:, 0]], -1)
    return pose, root


def test_bones_are_a_tree_of_the_skeleton():
    assert [c for _, c in BONES] == [j for j, p in enumerate(PARENTS) if p >= 0]


def test_bone_lengths_recovered_exactly_on_noise_free_sequences():
    """The lifter's estimate has each bone 15 % too long or short from frame to frame (its
    median right); noise-free 2D of the true skeleton: the shared set comes out exact."""
    T = 15
    truth, root = skeleton_sequence(T)
    rng = np.random.default_rng(1)
    factors = np.stack([rng.permutation(np.linspace(0.85, 1.15, T)) for _ in range(16)], -1)
    guess, _ = skeleton_sequence(T, TRUE_BONES * factors)
    placed = truth + root[:, None]
    rays = placed[..., :2] / placed[..., 2:]
    problem = FrameProblem(rays, np.ones((T, 17)), "cpu", torch.float64)
    mu0 = torch.tensor(guess)
    present = torch.ones(T, dtype=torch.bool)
    bones0 = initial_bones(mu0, present)
    np.testing.assert_allclose(bones0.numpy(), TRUE_BONES, atol=1e-12)  # the median is right
    assert np.abs(bone_lengths(mu0).numpy() - TRUE_BONES).max() > 0.05  # each frame is not
    opts = RefineOptions(mode="uao-sequence", iters=15, lambda_unc=1e-4, lambda_smooth=0.0, lambda_root_smooth=0.0)
    mu, bones, got_root, done = solve_window(problem, mu0, torch.full((T, 17), np.log(0.05)), present, opts, bones0)
    assert done == 15
    np.testing.assert_allclose(bones.numpy(), TRUE_BONES, atol=5e-4)      # to half a millimetre
    np.testing.assert_allclose(bone_lengths(mu).numpy(), np.broadcast_to(TRUE_BONES, (T, 16)), atol=2e-3)
    # a bone seen side-on constrains its depth only at second order: poses converge slower
    err = np.linalg.norm((mu - mu[:, :1]).numpy() - truth, axis=-1).mean()
    assert err < 0.5 * np.linalg.norm(guess - truth, axis=-1).mean() and err < 0.02
    assert np.linalg.norm(got_root - root, axis=-1).mean() < 0.05  # depth from the size
    # proportions are recovered whatever the frozen size: a lifter 10 % too big
    mu_big, bones_big, _, _ = solve_window(problem, mu0 * 1.1, torch.full((T, 17), np.log(0.05)), present, opts,
                                           bones0 * 1.1)
    np.testing.assert_allclose(bones_big.numpy() / bones_big.sum().item(), TRUE_BONES / TRUE_BONES.sum(), atol=5e-4)
    assert abs(bones_big.sum().item() - 1.1 * TRUE_BONES.sum()) < 1e-9  # size stays frozen


def noisy_track(T=40, noise_px=4.0, seed=2):
    truth, root = skeleton_sequence(T, seed=seed)
    rng = np.random.default_rng(seed)
    kp = project(truth + root[:, None], INTR) + rng.normal(0, noise_px, (T, 17, 2))
    return kp, rng.uniform(0.6, 1.0, (T, 17))


def acceleration(j):
    return np.linalg.norm(j[:-2] - 2 * j[1:-1] + j[2:], axis=-1).mean()


def test_smoothness_lowers_acceleration_on_a_noisy_sequence(model):
    kp, sc = noisy_track()
    rough = RefineOptions(mode="uao-sequence", lambda_smooth=0.0, lambda_root_smooth=0.0)
    a_rough = lift(model, kp, sc, INTR, rough)
    a_smooth = lift(model, kp, sc, INTR, RefineOptions(mode="uao-sequence"))
    assert acceleration(a_smooth.joints_m) < 0.3 * acceleration(a_rough.joints_m)
    assert acceleration(a_smooth.root_m[:, None]) < 0.6 * acceleration(a_rough.root_m[:, None])
    # the root's own term lowers the root's acceleration further
    no_root_term = lift(model, kp, sc, INTR, RefineOptions(mode="uao-sequence", lambda_root_smooth=0.0))
    stiff_root = lift(model, kp, sc, INTR, RefineOptions(mode="uao-sequence", lambda_root_smooth=3.0))
    assert acceleration(stiff_root.root_m[:, None]) < 0.7 * acceleration(no_root_term.root_m[:, None])


def test_zero_weight_configuration_equals_per_frame_refinement(model):
    kp, sc = noisy_track(T=12)
    per_frame = lift(model, kp, sc, INTR, RefineOptions(mode="uao-feature", iters=3))
    seq = lift(model, kp, sc, INTR, RefineOptions(mode="uao-sequence", iters=3, lambda_bone=0.0,
                                                  lambda_smooth=0.0, lambda_root_smooth=0.0, window=5))
    assert seq.iters == per_frame.iters == 3
    np.testing.assert_allclose(seq.joints_m, per_frame.joints_m, atol=1e-5)
    np.testing.assert_allclose(seq.root_m, per_frame.root_m, atol=1e-4)
    np.testing.assert_allclose(seq.sigma_m, per_frame.sigma_m, rtol=1e-5)


def test_missing_joints_and_empty_frames_are_ignored_not_propagated(model):
    kp, sc = noisy_track(T=20)
    opts = RefineOptions(mode="uao-sequence", window=8)
    base = lift(model, kp, sc, INTR, opts)
    kp_bad, sc_bad = kp.copy(), sc.copy()
    kp_bad[5, 13] = np.nan                 # a missing wrist
    sc_bad[6, 3] = np.nan                  # a NaN score
    kp_bad[10] = np.nan                    # nobody in frame 10
    sc_bad[11] = 0.0                       # a frame whose every joint is below threshold
    res = lift(model, kp_bad, sc_bad, INTR, opts)
    for f in (res.joints_m, res.root_m, res.sigma_m):
        assert np.isfinite(f).all()
    # the empty frames take their root from their neighbours in time
    for t in (10, 11):
        np.testing.assert_allclose(res.root_m[t], res.root_m[9] + (t - 9) / 3 * (res.root_m[12] - res.root_m[9]),
                                   atol=1e-5)
        assert np.linalg.norm(res.root_m[t] - base.root_m[t]) < 0.1 * base.root_m[t, 2]
    # frames far from the damage barely move (they share the person's bone lengths, whose
    # median now sees two frames fewer)
    np.testing.assert_allclose(res.joints_m[:3], base.joints_m[:3], atol=1e-2)
    # a missing joint enters as its parent with score 0 (normalise.fill_missing), exactly
    kp_ref, sc_ref = kp_bad.copy(), sc_bad.copy()
    kp_ref[5, 13], sc_ref[5, 13] = kp[5, 12], 0.0
    np.testing.assert_allclose(lift(model, kp_ref, sc_ref, INTR, opts).joints_m, res.joints_m, atol=1e-6)
    live = SequenceRefiner(model, RefineOptions.preset("sequence-live"))
    for k, s in zip(kp_bad, sc_bad):
        out = live.update("a", k, s, INTR)
        assert all(np.isfinite(o).all() for o in out)


def test_the_refiner_sees_only_2d_scores_and_intrinsics():
    assert list(inspect.signature(lift).parameters) == ["model", "keypoints_px", "scores", "intr", "options",
                                                       "device", "record"]
    assert list(inspect.signature(SequenceRefiner.update).parameters) == ["self", "track_id", "keypoints_px",
                                                                         "scores", "intr"]


def test_live_sliding_window_is_causal_smoother_and_per_track(model):
    kp, sc = noisy_track(T=40)
    opts = replace(RefineOptions.preset("sequence-live"), max_ms=0.0)
    live = SequenceRefiner(model, opts)
    out = [live.update(7, k, s, INTR) for k, s in zip(kp, sc)]
    joints = np.stack([o[0] for o in out])
    assert joints.shape == (40, 17, 3) and out[0][1].shape == (3,) and out[0][2].shape == (17,)
    per_frame = lift(model, kp, sc, INTR, RefineOptions(mode="uao-feature"))
    assert acceleration(joints) < 0.75 * acceleration(per_frame.joints_m)  # one step per frame
    # causal: the first 10 results do not change when later frames differ
    other = SequenceRefiner(model, opts)
    again = [other.update(7, k, s, INTR) for k, s in zip(kp[:10], sc[:10])]
    np.testing.assert_allclose(np.stack([o[0] for o in again]), joints[:10], atol=1e-9)
    # tracks are independent; forget starts a track afresh
    first = SequenceRefiner(model, opts).update(1, kp[0], sc[0], INTR)
    live.forget(7)
    live.forget("never seen")
    np.testing.assert_allclose(live.update(7, kp[0], sc[0], INTR)[0], first[0], atol=1e-9)
    with pytest.raises(ValueError, match=r"^keypoints_px: shape \(15, 2\)"):
        live.update(7, kp[0, :15], sc[0], INTR)
    with pytest.raises(ValueError, match="^refine mode 'uao-feature': SequenceRefiner"):
        SequenceRefiner(model, RefineOptions(mode="uao-feature"))
    with pytest.raises(ValueError, match="^refine window 2"):
        SequenceRefiner(model, replace(opts, window=2))


def test_no_prior_and_all_empty_tracks_stay_finite(model):
    kp, sc = noisy_track(T=10)
    kp[4] = np.nan
    res = lift(model, kp, sc, INTR, RefineOptions(mode="uao-sequence", lambda_unc=0.0))
    assert np.isfinite(res.joints_m).all() and np.isfinite(res.root_m).all()
    nobody = lift(model, np.full((6, 17, 2), np.nan), np.zeros((6, 17)), INTR, RefineOptions(mode="uao-sequence"))
    assert np.isfinite(nobody.joints_m).all() and np.isfinite(nobody.root_m).all()
