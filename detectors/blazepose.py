"""BlazePose through MediaPipe's legacy solutions API: the embedded, offline default.

One person per frame (the legacy API tracks a single person). Landmark visibility is the
keypoint score. Only the full landmark model ships in the mediapipe wheel; lite and heavy
run when their .tflite files have been added (see MISSING_MODEL).
"""
from pathlib import Path

import cv2
import numpy as np

from . import Person
from .frame import as_bgr
from .keypoints import blazepose_to_coco, keypoints_bbox, lifter_joints

VARIANTS = {"lite": 0, "full": 1, "heavy": 2}  # -> mediapipe model_complexity
MISSING_MODEL = (
    "detector mediapipe: model {variant!r} needs {file}, which the mediapipe wheel does not "
    "ship; take it from the npm package @mediapipe/pose (`npm pack @mediapipe/pose`, "
    "then copy package/{name} into {dir}/), or use --det-config full")


def model_file(variant):
    """Where mediapipe looks for the landmark model of a variant (lite | full | heavy)."""
    import mediapipe as mp
    return Path(mp.__file__).parent / "modules" / "pose_landmark" / f"pose_landmark_{variant}.tflite"


class BlazePoseDetector:
    name = "mediapipe"

    def __init__(self, variant="full", static_image=False, min_detection_confidence=0.5,
                 min_tracking_confidence=0.5, min_score=0.0):
        """variant: lite | full | heavy; static_image: detect afresh on every frame instead
        of tracking; min_score: lifter joints scored below it become NaN."""
        import mediapipe as mp
        if variant not in VARIANTS:
            raise ValueError(f"detector mediapipe: unknown model {variant!r}, "
                             f"choose one of {', '.join(VARIANTS)}")
        path = model_file(variant)
        if not path.is_file():
            # mediapipe would try to download it at this point and fail with a long trace
            raise ValueError(MISSING_MODEL.format(variant=variant, file=path,
                                                  name=path.name, dir=path.parent))
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=static_image, model_complexity=VARIANTS[variant],
            smooth_landmarks=not static_image, enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence)
        self.version = f"mediapipe {mp.__version__} blazepose-{variant}"
        self.min_score = min_score

    def __call__(self, frame_bgr):
        """(H, W[, 3|4]) uint8 frame -> [] or [Person] with 33 BlazePose source keypoints."""
        bgr = as_bgr(frame_bgr)
        h, w = bgr.shape[:2]
        result = self._pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if result.pose_landmarks is None:
            return []
        lm = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark],
                      dtype=np.float32)
        source_px = lm[:, :2] * np.array([w, h], np.float32)
        source_scores = np.clip(lm[:, 2], 0.0, 1.0)
        keypoints, scores = lifter_joints(*blazepose_to_coco(source_px, source_scores), self.min_score)
        # All 33 landmarks (occluded ones are still predicted) give a full-body box, the
        # kind a top-down model expects when it borrows this box.
        bbox = keypoints_bbox(source_px, np.ones(len(source_px)), pad=0.1)
        bbox = np.clip(bbox, 0, [w - 1, h - 1, w - 1, h - 1]).astype(np.float32)
        return [Person(keypoints, scores, bbox, source_px, source_scores, "blazepose33")]

    def reset(self):
        """Forget the tracked person (h5, issue 15: app.batch reuses one detector across videos)."""
        self._pose.reset()

    def close(self):
        self._pose.close()
