"""Per-track temporal smoothing of the pipeline's lifted frames (lifter.temporal).

causal (live default): each frame leaves at once with every person's filtered pose; the
filter's lag is measured by benchmarks/temporal_jitter.py.
offline (file default): frames are held back OFFLINE_LAG_FRAMES frames, so each person
is released with the RTS-smoothed pose given that many frames of look-ahead (a
fixed-lag smoother; at this lag it matches the whole-sequence smoother of
lifter.temporal.smooth_track closely, see the benchmark). Everything downstream - 3D
view, overlay, every export - sees the smoothed poses; the end of the stream flushes
what is held.
A person's track is PersonPose.track_id, or its slot in the frame while nothing sets one.
"""
from lifter.temporal import MODES, SmoothOptions, TrackSmoother

OFFLINE_LAG_FRAMES = 30


class FrameSmoother:
    def __init__(self, mode, fps, lag_frames=OFFLINE_LAG_FRAMES, options=None):
        if mode not in MODES:
            raise ValueError(f"--smooth {mode!r}: expected one of {', '.join(MODES)}")
        self.mode, self.fps, self.lag = mode, fps, lag_frames
        self.options = options or SmoothOptions()
        if mode == "offline" and lag_frames >= self.options.history:
            raise ValueError(f"smoothing lag {lag_frames} frames: must be below the kept history "
                             f"{self.options.history}")
        self.tracks = {}     # track id -> TrackSmoother
        self.last_seen = {}  # track id -> push count when last seen
        self.pushed = 0
        self.pending = []    # offline: frames waiting for their look-ahead

    def push(self, frame):
        """Take one lifted app.frame.Frame; returns the frames ready to go on, in order."""
        if self.mode == "off":
            return [frame]
        self.pushed += 1
        for i, p in enumerate(frame.people):
            if p.joints_m is None:
                continue
            track = p.track_key(i)
            if track not in self.tracks:
                self.tracks[track] = TrackSmoother(self.fps, self.options)
            causal = self.tracks[track].update(p.joints_m, p.root_m, p.sigma_m, p.scores, frame.time_s,
                                               estimate=self.mode == "causal")
            self.last_seen[track] = self.pushed
            if causal is not None:
                _assign(p, *causal)
        self._forget_gone_tracks()
        if self.mode == "causal":
            return [frame]
        self.pending.append(frame)
        return [self._release(self.pending.pop(0))] if len(self.pending) > self.lag else []

    def flush(self):
        """The end of the stream: every frame still held, smoothed with what was seen."""
        out = [self._release(f) for f in self.pending]
        self.pending = []
        return out

    def _release(self, frame):
        for i, p in enumerate(frame.people):
            if p.joints_m is None:
                continue
            track = p.track_key(i)
            _assign(p, *self.tracks[track].smoothed(frame.time_s))
        return frame

    def _forget_gone_tracks(self):
        """Drop tracks unseen for longer than every held frame and the filter's memory."""
        horizon = max(self.lag + 1, round(self.options.reset_after_s * self.fps) + 1)
        for track in [t for t, seen in self.last_seen.items() if self.pushed - seen > horizon]:
            del self.tracks[track], self.last_seen[track]


def _assign(person, joints_m, root_m):
    person.joints_m = joints_m.astype(person.joints_m.dtype)
    if person.root_m is not None:
        person.root_m = root_m.astype(person.root_m.dtype)
