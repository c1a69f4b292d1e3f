"""BlazePose through MediaPipe's Tasks PoseLandmarker: the embedded, offline default,
several people per frame.

The .task bundle is built on first use from the models inside the mediapipe wheel
(detectors.pose_bundle). VIDEO mode on video (the landmarker tracks each person from
frame to frame and runs its person detector only while fewer than max_people are
tracked), IMAGE mode on stills. Landmark visibility is the keypoint score. The same
person is sometimes found twice: duplicates are suppressed (detectors.similarity)
before anyone downstream sees them.
"""
import cv2
import numpy as np

from . import Person
from .frame import as_bgr
from .keypoints import blazepose_to_coco, keypoints_bbox, lifter_joints
from .pose_bundle import VARIANTS, bundle_path, model_file  # noqa: F401  (re-exported for callers)
from .similarity import suppress_duplicates

DEFAULT_MAX_PEOPLE = 2  # measured: see benchmarks/people_cap.py and the README
FRAME_STEP_MS = 1000 / 30  # VIDEO mode wants increasing timestamps; frames are taken as 30 fps


class BlazePoseDetector:
    name = "mediapipe"

    def __init__(self, variant="full", static_image=False, max_people=DEFAULT_MAX_PEOPLE,
                 min_detection_confidence=0.5, min_tracking_confidence=0.5,
                 min_pose_presence=0.3, min_score=0.0):
        """variant: lite | full | heavy; static_image: detect afresh on every frame (IMAGE
        mode) instead of tracking (VIDEO mode); max_people: the landmarker's num_poses;
        min_tracking_confidence: MediaPipe's box overlap for following a tracked person
        (not a landmark score); min_pose_presence: 0.3, not MediaPipe's 0.5, keeps people
        in unusual poses (measured on the demo clip: the man landing from his jump is
        found only with it); min_score: lifter joints scored below it become NaN."""
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions
        from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions, RunningMode
        if not (isinstance(max_people, int) and max_people >= 1):
            raise ValueError(f"detector mediapipe: max_people {max_people!r} must be an integer >= 1")
        bundle = bundle_path(variant)
        self._mp = mp
        self._landmarker = PoseLandmarker.create_from_options(PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(bundle)),
            running_mode=RunningMode.IMAGE if static_image else RunningMode.VIDEO,
            num_poses=max_people, min_pose_detection_confidence=min_detection_confidence,
            min_pose_presence_confidence=min_pose_presence,
            min_tracking_confidence=min_tracking_confidence))
        self.static_image, self.max_people, self.min_score = static_image, max_people, min_score
        self._frames = 0
        self.version = f"mediapipe {mp.__version__} pose-landmarker-{variant} max{max_people}"

    def __call__(self, frame_bgr):
        """(H, W[, 3|4]) uint8 frame -> list[Person] (33 BlazePose source keypoints each),
        at most max_people, duplicates removed; [] when nobody is seen."""
        bgr = as_bgr(frame_bgr)
        h, w = bgr.shape[:2]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB,
                               data=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if self.static_image:
            result = self._landmarker.detect(image)
        else:
            result = self._landmarker.detect_for_video(image, round(self._frames * FRAME_STEP_MS))
            self._frames += 1
        people = [self._person(landmarks, w, h) for landmarks in result.pose_landmarks]
        return suppress_duplicates(people)

    def _person(self, landmarks, w, h):
        lm = np.array([(p.x, p.y, p.visibility) for p in landmarks], dtype=np.float32)
        source_px = lm[:, :2] * np.array([w, h], np.float32)
        source_scores = np.clip(np.nan_to_num(lm[:, 2]), 0.0, 1.0)
        keypoints, scores = lifter_joints(*blazepose_to_coco(source_px, source_scores), self.min_score)
        # All 33 landmarks (occluded ones are still predicted) give a full-body box, the
        # kind a top-down model expects when it borrows this box.
        bbox = keypoints_bbox(source_px, np.ones(len(source_px)), pad=0.1)
        bbox = np.clip(bbox, 0, [w - 1, h - 1, w - 1, h - 1]).astype(np.float32)
        return Person(keypoints, scores, bbox, source_px, source_scores, "blazepose33")

    def close(self):
        self._landmarker.close()
