"""Temporal filter (lifter.temporal): convergence, step response, sigma-weighting,
missing data, bone lengths and body size, look-ahead."""
import numpy as np
import pytest

from lifter.bones import bone_lengths_m, project_bone_lengths
from lifter.temporal import SmoothOptions, TrackSmoother, smooth_track

FPS = 30.0
# documented step response (causal, sigma 3 cm): within 2 cm of a new pose this many frames
# after it, and of a root that jumped 0.5 m (no person does that in 33 ms: the worst case)
STEP_FRAMES, ROOT_STEP_FRAMES = 6, 15


STANDING_M = np.array([   # (17, 3) root-relative, camera frame (y down), left/right symmetric
    [0, 0, 0], [-0.12, 0, 0], [-0.12, 0.45, 0.02], [-0.12, 0.88, 0.05],
    [0.12, 0, 0], [0.12, 0.45, 0.02], [0.12, 0.88, 0.05],
    [0, -0.23, 0], [0, -0.48, 0], [0, -0.57, -0.08], [0, -0.72, 0],
    [0.17, -0.46, 0], [0.2, -0.2, 0.05], [0.22, 0.05, 0],
    [-0.17, -0.46, 0], [-0.2, -0.2, 0.05], [-0.22, 0.05, 0]])


def pose(turn_deg=0.0):
    """(17, 3) root-relative symmetric pose, turned about the vertical axis."""
    a = np.radians(turn_deg)
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return STANDING_M @ R.T


def noisy(truth, sigma_m, rng):
    """Measurements: truth + Gaussian noise of std sigma_m per joint (T, 17)."""
    return truth + rng.normal(size=truth.shape) * sigma_m[..., None] / np.sqrt(3)


def acc_mm(X):
    """Mean acceleration (mm/frame^2) over frames of (T, ..., 3)."""
    return float(np.nanmean(np.linalg.norm(X[2:] - 2 * X[1:-1] + X[:-2], axis=-1)) * 1e3)


def test_still_pose_converges():
    rng = np.random.default_rng(1)
    T, P = 240, pose()
    sigma = np.full((T, 17), 0.05)
    z = noisy(np.broadcast_to(P, (T, 17, 3)), sigma, rng)
    root = np.array([0.2, 0.1, 5.0]) + rng.normal(size=(T, 3)) * [0.03, 0.03, 0.2]
    j, r = smooth_track(z, sigma, root, np.ones((T, 17)), "causal", FPS)
    raw_err = np.linalg.norm(z[60:] - P, axis=-1).mean()
    err = np.linalg.norm(j[60:] - P, axis=-1).mean()
    assert err < 0.7 * raw_err
    truth_root = np.array([0.2, 0.1, 5.0])
    assert (np.abs(r[60:] - truth_root).mean(0) < 0.7 * np.abs(root[60:] - truth_root).mean(0)).all()
    jo, _ = smooth_track(z, sigma, root, None, "offline", FPS)
    assert np.linalg.norm(jo - P, axis=-1).mean() < err  # looking ahead beats the causal filter


def test_step_is_followed_within_stated_frames():
    T, a, b = 60, pose(), pose(40.0)
    truth = np.where(np.arange(T)[:, None, None] < 30, a, b)
    sigma = np.full((T, 17), 0.03)
    root = np.where(np.arange(T)[:, None] < 30, [0.0, 0.0, 4.0], [0.5, 0.0, 4.0])
    j, r = smooth_track(truth, sigma, root, np.ones((T, 17)), "causal", FPS)
    err = np.linalg.norm(j - truth, axis=-1).max(axis=1)
    assert err[30] > 0.02                       # it is a filter, not a copy
    assert (err[30 + STEP_FRAMES:] < 0.02).all()
    assert (np.abs(r[30 + ROOT_STEP_FRAMES:] - root[30 + ROOT_STEP_FRAMES:]).max(axis=1) < 0.02).all()


def test_high_sigma_joints_are_smoothed_more():
    rng = np.random.default_rng(4)
    T, P = 120, pose()
    noise = rng.normal(size=(T, 17, 3)) * 0.03   # the same noise on every joint ...
    z = P + noise
    sigma = np.full((T, 17), 0.03)
    sigma[:, 13] = 0.15                           # ... but the lifter doubts the left wrist
    filter_only = SmoothOptions(hold_size=False, hold_bones=False)
    j, _ = smooth_track(z, sigma, None, np.ones((T, 17)), "causal", FPS, options=filter_only)
    assert acc_mm(j[:, 13]) < 0.6 * acc_mm(j[:, 16])   # right wrist: same noise, trusted
    # with the bones held the doubtful wrist also follows its elbow's jitter, but less so
    j, _ = smooth_track(z, sigma, None, np.ones((T, 17)), "causal", FPS)
    assert acc_mm(j[:, 13]) < 0.85 * acc_mm(j[:, 16])
    low_score = np.ones((T, 17))
    low_score[:, 16] = 0.2                        # a low 2D score also means less trust
    j2, _ = smooth_track(z, np.full((T, 17), 0.03), None, low_score, "causal", FPS, options=filter_only)
    assert acc_mm(j2[:, 16]) < 0.6 * acc_mm(j2[:, 13])


def test_missing_joints_and_frames_do_not_poison_the_state():
    rng = np.random.default_rng(5)
    T, P = 60, pose()
    z = noisy(np.broadcast_to(P, (T, 17, 3)), np.full((T, 17), 0.01), rng)
    root = np.tile([0.0, 0.0, 3.0], (T, 1))
    sigma = np.full((T, 17), 0.02)
    z[10:20] = np.nan            # nobody in these frames
    root[10:20] = np.nan
    z[30:40, 13] = np.nan        # one joint lost
    sigma[40, 5] = np.nan        # a broken sigma
    root[45] = np.nan            # a frame without root
    j, r = smooth_track(z, sigma, root, None, "causal", FPS)
    assert np.isnan(j[10:20]).all() and np.isnan(r[10:20]).all()
    rest = np.r_[0:10, 20:T]
    assert np.isfinite(j[rest]).all() and np.isfinite(r[rest]).all()
    assert np.linalg.norm(j[25:] - P, axis=-1).max() < 0.05   # lost joint filled near its place
    jo, ro = smooth_track(z, sigma, root, None, "offline", FPS)
    assert np.isfinite(jo[rest]).all() and np.abs(ro[rest] - [0, 0, 3]).max() < 0.02


def test_size_and_root_depth_held_by_bone_lengths():
    rng = np.random.default_rng(6)
    T, P = 100, pose()
    scale = 1 + 0.1 * np.sin(np.arange(T) * 1.3)    # the lifter's size wobbles +-10 % ...
    z = P * scale[:, None, None]
    root = np.array([0.0, 0.0, 5.0]) * scale[:, None]  # ... and the root depth follows it
    sigma = np.full((T, 17), 0.03)
    j, r = smooth_track(z, sigma, root, np.ones((T, 17)), "offline", FPS)
    lengths = bone_lengths_m(j)
    assert lengths.std(axis=0).max() < 1e-6
    np.testing.assert_allclose(lengths[0], bone_lengths_m(P), rtol=0.05)
    assert r[:, 2].std() < 0.1 * root[:, 2].std()
    off, _ = smooth_track(z, sigma, root, None, "off", FPS)
    np.testing.assert_array_equal(off, z)


def test_bone_projection_moves_the_uncertain_end():
    P = pose()
    ref = bone_lengths_m(P)
    X = P.copy()
    X[13] = X[12] + (X[13] - X[12]) * 1.3          # forearm 30 % too long
    variance = np.full(17, 1e-4)
    variance[13] = 1e-2                              # the wrist is the doubtful end
    out = project_bone_lengths(X, ref, variance)
    np.testing.assert_allclose(bone_lengths_m(out), ref, atol=2e-3)
    assert np.linalg.norm(out[13] - P[13]) < 0.01    # the wrist went back ...
    assert np.linalg.norm(out[12] - P[12]) < 0.002   # ... the elbow hardly moved
    assert (out[0] == 0).all()


def test_streaming_matches_array_api_and_looks_ahead():
    rng = np.random.default_rng(8)
    T, P = 40, pose()
    z = noisy(np.broadcast_to(P, (T, 17, 3)), np.full((T, 17), 0.04), rng)
    sigma, times = np.full((T, 17), 0.04), np.arange(T) / FPS
    s = TrackSmoother(FPS)
    causal = [s.update(z[t], None, sigma[t], None, times[t])[0] for t in range(T)]
    j, _ = smooth_track(z, sigma, None, None, "causal", FPS, time_s=times)
    np.testing.assert_allclose(np.array(causal), j, atol=1e-9)
    ahead = s.smoothed(times[T - 11])[0]   # frame 29 seen with 10 frames of look-ahead
    assert np.linalg.norm(ahead - P, axis=-1).mean() < np.linalg.norm(causal[T - 11] - P, axis=-1).mean()
    with pytest.raises(ValueError, match="no stored update"):
        s.smoothed(99.0)


def test_dropped_frames_use_the_recorded_times():
    """A live run keeps frames at irregular times; the motion model must step by the real
    dt, or a moving person is under- and over-shot at every gap."""
    rng = np.random.default_rng(9)
    T = 90
    times = np.cumsum(rng.integers(1, 5, T)) / FPS                # 1-4 camera frames apart
    truth_root = np.array([0.0, 0.0, 4.0]) + times[:, None] * [0.8, 0.0, 0.0]   # walking sideways
    root = truth_root + rng.normal(size=(T, 3)) * 0.01
    sigma = np.full((T, 17), 0.02)
    z = noisy(np.broadcast_to(pose(), (T, 17, 3)), sigma, rng)
    motion_only = SmoothOptions(hold_size=False)  # the root here does not follow the joints' size
    _, r = smooth_track(z, sigma, root, None, "causal", FPS, time_s=times, options=motion_only)
    _, uniform = smooth_track(z, sigma, root, None, "causal", FPS, options=motion_only)
    err = np.abs(r[30:] - truth_root[30:]).mean(axis=0)
    assert np.linalg.norm(err) < 0.015
    assert err[0] < 0.5 * np.abs(uniform[30:, 0] - truth_root[30:, 0]).mean()   # along the walk


def test_bad_arguments_are_one_line_errors():
    z, sigma = np.zeros((3, 17, 3)), np.zeros((3, 17))
    with pytest.raises(ValueError, match="smoothing mode"):
        smooth_track(z, sigma, mode="sideways")
    with pytest.raises(ValueError, match=r"expected \(T, 17, 3\)"):
        smooth_track(np.zeros((3, 16, 3)), sigma)
    with pytest.raises(ValueError, match="filter"):
        smooth_track(z, sigma, options=SmoothOptions(filter="median"))
