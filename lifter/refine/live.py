"""Live uao-sequence: per track, a sliding window of the last W frames refined causally
at every new frame, warm-started from the previous window's solution, within
options.max_ms. The app calls `update` once per tracked person and frame."""
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch

from ..skeleton import NUM_JOINTS
from .folded import FoldedGUMLP
from .lifting import model_device, prepare
from .objective import FrameProblem
from .options import RefineOptions
from .sequence import bone_lengths, interpolate_missing, present_frames, solve_window

# Frames of a track whose lifter bone lengths set its frozen size (a median): long
# enough to be steady, short enough to follow a new person under a reused id.
SIZE_HISTORY = 300


@dataclass
class Track:
    """One person's recent frames (each deque holds the last W), as the refiner left them."""
    mu0: deque        # (17, 3) float64 tensors: the network's first estimate
    s: deque          # (17,) log sigma
    rays: deque       # (17, 2) undistorted rays
    weights: deque    # (17,) projection weights
    mu: deque         # (17, 3) the last window's solution (the warm start)
    lengths: deque = field(default_factory=lambda: deque(maxlen=SIZE_HISTORY))  # (16,) per frame
    bones: torch.Tensor = None  # (16,) the person's bone lengths from the last window


class SequenceRefiner:
    """uao-sequence for a live app, one window per track id.

    SequenceRefiner(model, options, device).update(track_id, keypoints_px (17, 2),
    scores (17,), intrinsics) -> joints_m (17, 3) root-relative, root_m (3,), sigma_m (17,)
    for the newest frame; forget(track_id) when a track ends. Causal: a frame's result
    uses only frames up to it. The folded weights are taken once, at construction: make
    a new refiner after changing the model's weights.
    """

    def __init__(self, model, options=None, device=None):
        self.options = options or RefineOptions.preset("sequence-live")
        self.options.check()
        if self.options.mode != "uao-sequence":
            raise ValueError(f"refine mode {self.options.mode!r}: SequenceRefiner needs 'uao-sequence'")
        self.model = model
        self.device = model_device(model, device)
        self.folded = FoldedGUMLP(model)
        self.tracks = {}

    def forget(self, track_id):
        """Drop a track's window (the person left); unknown ids are ignored."""
        self.tracks.pop(track_id, None)

    def _track(self, track_id):
        if track_id not in self.tracks:
            W = self.options.window
            self.tracks[track_id] = Track(*(deque(maxlen=W) for _ in range(5)))
        return self.tracks[track_id]

    @torch.no_grad()
    def update(self, track_id, keypoints_px, scores, intr):
        """Add one frame of one person and refine the track's window; returns the
        newest frame's joints_m (17, 3), root_m (3,), sigma_m (17,) as float32 numpy."""
        kp = np.asarray(keypoints_px, dtype=np.float64)
        sc = np.asarray(scores, dtype=np.float64)
        if kp.shape != (NUM_JOINTS, 2):
            raise ValueError(f"keypoints_px: shape {kp.shape}, expected ({NUM_JOINTS}, 2)")
        if sc.shape != (NUM_JOINTS,):
            raise ValueError(f"scores: shape {sc.shape}, expected ({NUM_JOINTS},)")
        batch = prepare(self.model, kp[None], sc[None], intr, self.options, self.device)
        mu0, s, _ = self.folded.decode(self.folded.encode(batch.x))
        mu0, s = mu0.double()[0], s.double()[0]
        track = self._track(track_id)
        for q, v in ((track.mu0, mu0), (track.s, s), (track.rays, batch.rays[0]),
                     (track.weights, batch.weights[0]), (track.mu, mu0)):
            q.append(v)
        weights = np.stack(track.weights)
        present = present_frames(weights)
        if present[-1]:
            track.lengths.append(bone_lengths(mu0[None])[0])
        if track.lengths:  # the frozen size: the median lifter skeleton of the track so far
            size = torch.stack(list(track.lengths)).median(0).values
            bones = size if track.bones is None else track.bones * (size.sum() / track.bones.sum())
        else:
            bones = bone_lengths(mu0[None])[0]
        problem = FrameProblem(np.stack(track.rays), weights, self.device, torch.float64)
        mu, track.bones, root, _ = solve_window(problem, torch.stack(list(track.mu0)), torch.stack(list(track.s)),
                                                torch.as_tensor(present, device=self.device), self.options,
                                                bones, torch.stack(list(track.mu)))
        track.mu.clear()
        track.mu.extend(mu)
        rel = (mu[-1] - mu[-1, :1]).cpu().numpy()
        root = interpolate_missing(root, present)
        return rel.astype(np.float32), root[-1].astype(np.float32), np.exp(s.cpu().numpy()).astype(np.float32)
