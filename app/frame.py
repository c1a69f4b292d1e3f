"""What flows between the pipeline's stages: one frame and the people found in it."""
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


@dataclass
class Frame:
    index: int                        # position in the source (counts dropped frames too)
    time_s: float                     # capture time: media time offline, wall clock live
    image: np.ndarray | None          # (H, W, 3) BGR uint8, original size
    people: list = field(default_factory=list)   # list[PersonPose]
    refine: dict = field(default_factory=dict)   # {"mode": str, "iters": int} actually run
    timings_ms: dict = field(default_factory=dict)  # stage name -> ms spent on this frame
    captured_at: float = 0.0          # time.monotonic() at capture, for latency
