"""A steady skeleton per track: the lifter's per-frame 3D output filtered over time,
with each joint's predicted sigma (and 2D score) as its measurement noise, and the
track's bone lengths held fixed.

Per frame (`TrackSmoother.update`):
1. size: the frame's bone lengths are compared with the track's robust bone lengths
   (weighted median over its confident frames, lifter.bones) and the whole absolute
   pose - joints and root - is scaled to that size about the camera centre. The 2D
   projection is unchanged, but a lifter that briefly thinks the person is 10 % larger
   no longer pushes them 10 % farther away.
2. filter: root-relative joints (17 x 3) and root (3) are 54 constant-velocity Kalman
   channels (lifter.kalman). A joint's measurement variance is (sigma / score)-scaled,
   so a confident joint follows its measurement and an uncertain one leans on its
   motion model. Missing (NaN) joints or frames are predict-only steps.
3. bones: the filtered joints are pulled to the track's bone lengths, each bone's
   length error shared by its two ends by their filter variance (lifter.bones).

Causal mode (live) outputs step 2's filtered state at once. Offline mode looks ahead:
`smooth_track` runs a fixed-interval RTS smoother over the whole sequence;
`TrackSmoother.smoothed(time_s)` gives the RTS estimate of an earlier frame from
everything seen since (the app delays released frames by a fixed lag for this).
"""
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from .bones import bone_lengths_m, bone_weights, project_bone_lengths, robust_bone_lengths_m, size_scale
from .kalman import ConstantVelocityBank, OneEuroBank
from .skeleton import NUM_JOINTS

MODES = ("off", "causal", "offline")
REFERENCE_REFRESH = 10  # frames between updates of a running bone-length median (it moves slowly)
FILTERS = ("kalman", "one-euro")


@dataclass
class SmoothOptions:
    """Noise model and settings; defaults tuned on the demo clip (benchmarks/temporal_jitter.py)."""
    filter: str = "kalman"          # kalman | one-euro (causal only; measured to lose, kept to compare)
    joint_q: float = 1.0            # m^2/s^3, white-noise acceleration of root-relative joints
    root_q: float = 0.3             # m^2/s^3, of the root
    sigma_gain: float = 1.0         # measurement std = sigma_gain * sigma_m / score
    sigma_floor_m: float = 0.01     # no joint is trusted more than this
    score_floor: float = 0.05       # a score of 0 means "very uncertain", not "infinitely"
    root_xy_m: float = 0.03         # root measurement std across the image
    root_depth_frac: float = 0.04   # root depth std as a fraction of the depth
    hold_size: bool = True          # scale each frame to the track's bone lengths
    hold_bones: bool = True         # give the output the track's bone lengths
    bone_score_min: float = 0.5     # bones whose ends scored lower do not count towards lengths
    bone_window: int = 300          # causal: frames of bone lengths kept for the running median
    max_scale_change: float = 0.3   # per-frame size correction clamped to 1 -/+ this
    reset_after_s: float = 1.0      # a channel unseen this long restarts at its next measurement
    history: int = 64               # steps kept for look-ahead (the app's offline lag must be less)
    one_euro_min_cutoff_hz: float = 1.0
    one_euro_beta: float = 0.5

    def check(self):
        if self.filter not in FILTERS:
            raise ValueError(f"smoothing filter {self.filter!r}: expected one of {', '.join(FILTERS)}")


class TrackSmoother:
    """Streaming smoother of one track. update() per frame in time order."""

    def __init__(self, fps=30.0, options=None, reference_m=None):
        """reference_m (16,): fixed bone lengths (offline, known from the whole track);
        None = a running weighted median of the confident frames so far."""
        if not fps > 0:
            raise ValueError(f"smoothing: frame rate {fps} is not positive")
        self.o = options or SmoothOptions()
        self.o.check()
        self.fps = fps
        n = NUM_JOINTS * 3 + 3
        if self.o.filter == "kalman":
            q = np.r_[np.full(n - 3, self.o.joint_q), np.full(3, self.o.root_q)]
            self.bank = ConstantVelocityBank(n, q, reset_after_s=self.o.reset_after_s, history=self.o.history)
        else:
            self.bank = OneEuroBank(n, self.o.one_euro_min_cutoff_hz, self.o.one_euro_beta,
                                    noise_ref=self.o.sigma_floor_m * 5)
        self.fixed_reference = reference_m
        self.lengths = deque(maxlen=self.o.bone_window)
        self.weights = deque(maxlen=self.o.bone_window)
        self._reference = None   # running estimate, refreshed every REFERENCE_REFRESH frames
        self._added = 0          # confident frames added so far
        self.times = deque(maxlen=self.o.history)
        self.last_time = None

    def reference_m(self):
        """(16,) bone lengths the output is held to (NaN = not yet known)."""
        if self.fixed_reference is not None:
            return self.fixed_reference
        if not self.lengths:
            return np.full(16, np.nan)
        if self._reference is None or self._added < REFERENCE_REFRESH or self._added % REFERENCE_REFRESH == 0:
            self._reference = robust_bone_lengths_m(np.array(self.lengths), np.array(self.weights))
        return self._reference

    def _noise_std(self, sigma_m, scores, root_m):
        o = self.o
        sigma = np.where(np.isfinite(sigma_m), np.maximum(sigma_m, o.sigma_floor_m), np.nan)
        score = np.ones(NUM_JOINTS) if scores is None else np.where(np.isfinite(scores), scores, 0.0)
        joint = o.sigma_gain * sigma / np.maximum(score, o.score_floor)
        root = np.array([o.root_xy_m, o.root_xy_m, o.root_depth_frac * abs(root_m[2])])
        return np.r_[np.repeat(joint, 3), root]

    def update(self, joints_m, root_m, sigma_m, scores=None, time_s=None, estimate=True):
        """One frame: joints_m (17, 3) root-relative, root_m (3,) or None, sigma_m (17,),
        scores (17,) or None, time_s (None = one frame after the last at fps).
        Returns the causal estimate (joints_m (17, 3), root_m (3,)), or None with
        estimate=False (a caller that only wants `smoothed` later saves the bone fit)."""
        joints = np.asarray(joints_m, np.float64).reshape(NUM_JOINTS, 3)
        root = np.full(3, np.nan) if root_m is None else np.asarray(root_m, np.float64).reshape(3)
        sigma = np.asarray(sigma_m, np.float64).reshape(NUM_JOINTS)
        if time_s is None:
            time_s = 0.0 if self.last_time is None else self.last_time + 1.0 / self.fps
        dt = 1.0 / self.fps if self.last_time is None else max(time_s - self.last_time, 1e-3)
        self.last_time = time_s
        lengths = bone_lengths_m(joints)
        w = bone_weights(sigma, scores, self.o.bone_score_min)
        if self.fixed_reference is None and (w > 0).any():
            self.lengths.append(lengths)
            self.weights.append(w)
            self._added += 1
        reference = self.reference_m()
        if self.o.hold_size:
            m = self.o.max_scale_change
            s = float(np.clip(size_scale(lengths[None], w[None], reference)[0], 1 - m, 1 + m))
            joints, root = joints * s, root * s
        z = np.r_[joints.ravel(), root]
        noise = self._noise_std(sigma, scores, root)
        if isinstance(self.bank, ConstantVelocityBank):
            out = self.bank.step(z, noise ** 2, dt)
        else:
            out = self.bank.step(z, noise, dt)
        self.times.append(time_s)
        if not estimate:
            return None
        if isinstance(self.bank, ConstantVelocityBank):
            variance = self.bank.P[:-3:3, 0, 0]   # the filter's own doubt about each joint
        else:
            variance = noise[:-3:3] ** 2
        return self._finish(out, reference, variance)

    def _finish(self, state, reference, variance):
        """Filter state(s) (..., 54) -> (joints_m (..., 17, 3), root_m (..., 3))."""
        joints = state[..., :-3].reshape(state.shape[:-1] + (NUM_JOINTS, 3))
        if self.o.hold_bones:
            joints = project_bone_lengths(joints, reference, variance)
        return joints, state[..., -3:].copy()

    def smoothed(self, time_s):
        """RTS estimate of the frame updated at time_s (kept in the last `history`
        updates), looking ahead at every update made since. Kalman filter only."""
        if not isinstance(self.bank, ConstantVelocityBank):
            raise ValueError("smoothing: look-ahead needs the kalman filter")
        times = list(self.times)
        if time_s not in times:
            raise ValueError(f"smoothing: no stored update at time {time_s}")
        back = len(times) - 1 - times.index(time_s)
        return self._finish(self.bank.sweep(back + 1)[0], self.reference_m(),
                            self.bank.steps[-1 - back].P_post[:-3:3, 0, 0])


def smooth_track(joints_m, sigma_m, root_m=None, scores=None, mode="causal", fps=30.0,
                 time_s=None, options=None):
    """Filter one track's sequence.

    joints_m (T, 17, 3) root-relative metres, sigma_m (T, 17), root_m (T, 3) or None,
    scores (T, 17) or None; NaN frames / joints are missing. mode: off (copy) | causal
    (each frame sees only the past) | offline (fixed-interval RTS smoother, every frame
    sees the whole sequence; bone lengths from all confident frames). Missing joints
    of a present frame come back filled by the filter; wholly missing frames stay NaN.
    time_s (T,) capture times, None = uniform at fps. Returns (joints_m (T, 17, 3),
    root_m (T, 3) or None if root_m was None)."""
    if mode not in MODES:
        raise ValueError(f"smoothing mode {mode!r}: expected one of {', '.join(MODES)}")
    joints = np.asarray(joints_m, np.float64)
    T = len(joints)
    if joints.shape[1:] != (NUM_JOINTS, 3) or np.shape(sigma_m) != (T, NUM_JOINTS):
        raise ValueError(f"smooth_track: joints {joints.shape} / sigma {np.shape(sigma_m)}, "
                         f"expected (T, 17, 3) / (T, 17)")
    roots = np.full((T, 3), np.nan) if root_m is None else np.asarray(root_m, np.float64)
    times = np.arange(T) / fps if time_s is None else np.asarray(time_s, np.float64)
    if mode == "off" or T == 0:
        return joints.copy(), None if root_m is None else roots.copy()
    o = replace(options or SmoothOptions(), history=T)  # the RTS sweep spans the whole sequence
    reference = None
    if mode == "offline":
        if o.filter != "kalman":
            raise ValueError("smoothing: offline mode needs the kalman filter")
        w = bone_weights(sigma_m, scores, o.bone_score_min)
        reference = robust_bone_lengths_m(bone_lengths_m(joints), w)
    smoother = TrackSmoother(fps, o, reference)
    out_j, out_r = np.empty_like(joints), np.empty_like(roots)
    for t in range(T):
        causal = smoother.update(joints[t], roots[t], sigma_m[t], None if scores is None else scores[t],
                                 times[t], estimate=mode == "causal")
        if causal is not None:
            out_j[t], out_r[t] = causal
    if mode == "offline":
        state = smoother.bank.sweep(T)
        variance = np.stack([step.P_post[:-3:3, 0, 0] for step in smoother.bank.steps])
        out_j, out_r = smoother._finish(state, reference, variance)
    absent = ~np.isfinite(joints).any(axis=(1, 2))  # nobody there: no output, only the filter coasts
    out_j[absent], out_r[absent] = np.nan, np.nan
    return out_j, None if root_m is None else out_r
