"""What flows between the pipeline's stages: one frame and the people found in it."""
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class PersonPose:
    keypoints_px: np.ndarray          # (17, 2) lifter order, original image pixels, NaN = missing
    scores: np.ndarray                # (17,) detector scores in [0, 1]
    bbox_xyxy: np.ndarray | None = None   # (4,) pixels
    joints_m: np.ndarray | None = None    # (17, 3) root-relative, camera frame, metres
    root_m: np.ndarray | None = None      # (3,) estimated camera-frame pelvis position
    sigma_m: np.ndarray | None = None     # (17,) predicted per-joint uncertainty
    track_id: int = None                  # app.tracker's id, stable across frames; None = untracked

    def track_key(self, slot):
        """Who this person is over time: the track id, or the slot in the frame while
        nothing tracks people (the smoother's and uao-sequence's per-person state)."""
        return slot if self.track_id is None else self.track_id


@dataclass
class Frame:
    index: int                        # position in the source (counts dropped frames too)
    time_s: float                     # capture time: media time offline, wall clock live
    image: np.ndarray | None          # (H, W, 3) BGR uint8, original size
    people: list = field(default_factory=list)   # list[PersonPose]
    refine: dict = field(default_factory=dict)   # {"mode": str, "iters": int} actually run
    timings_ms: dict = field(default_factory=dict)  # stage name -> wall ms spent on this frame
    cpu_ms: dict = field(default_factory=dict)      # stage name -> CPU ms of the stage's thread
    captured_at: float = 0.0          # time.monotonic() at capture, for latency

    def record(self, stage, start):
        """Store the wall and thread-CPU ms spent on `stage` since start = clock(). Wall
        time also counts waiting for a core while the other stages run; CPU time is what
        the stage itself costs the machine."""
        wall, cpu = clock()
        self.timings_ms[stage] = (wall - start[0]) * 1e3
        self.cpu_ms[stage] = (cpu - start[1]) * 1e3


def clock():
    """(wall, this thread's CPU) seconds, the start argument of Frame.record."""
    return time.perf_counter(), time.thread_time()
