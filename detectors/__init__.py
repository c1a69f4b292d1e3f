"""2D person keypoint detectors: frame (H, W, 3 BGR uint8) -> list[Person].

Two backends, one small class each, built by make_detector(name, **options):
  mediapipe  BlazePose (MediaPipe Tasks PoseLandmarker), embedded and offline; up to
             max_people people per frame.
  mmpose     any MMPose 1.x top-down COCO-17 model, HRNet-w32 256x192 by default; its
             person boxes come from the same multi-person BlazePose detector.
Every detector is called as detector(frame_bgr) -> list[Person] (empty when nobody is
seen), has .close(), and .name / .version strings for export metadata.
"""
import inspect
from dataclasses import dataclass

import numpy as np

NAMES = ("mediapipe", "mmpose")


@dataclass
class Features:
    """The backbone's multi-scale maps for one person (mmpose, with_features=True): the
    four branch outputs of HRNet's last stage (stage4[-1]), from the same forward pass as
    the keypoints. They are the input a context-aware lifter (Context-Aware PoseFormer)
    samples at the joints; the GUMLP lifter does not use them yet."""
    # 4 float32 torch tensors (C_i, H_i, W_i) at 1/4, 1/8, 1/16, 1/32 of the crop;
    # HRNet-w32 256x192: (32, 64, 48), (64, 32, 24), (128, 16, 12), (256, 8, 6)
    maps: list
    crop_to_image: np.ndarray  # (2, 3) affine: crop-input pixels -> image pixels
    input_size: tuple          # (w, h) of the crop input, e.g. (192, 256)


@dataclass
class Person:
    keypoints_px: np.ndarray         # (17, 2) lifter joint order, image pixels, NaN where missing
    scores: np.ndarray               # (17,) in [0, 1]
    bbox_xyxy: np.ndarray            # (4,) pixels
    source_keypoints_px: np.ndarray  # (K, 2) in the backend's own format
    source_scores: np.ndarray        # (K,)
    source_format: str               # "blazepose33" | "coco17"
    features: Features | None = None


def make_detector(name, config=None, checkpoint=None, device="cpu", static_image=False,
                  with_features=False, **options):
    """Build a detector by name.

    mediapipe: config = model variant "lite" | "full" (default) | "heavy"; checkpoint unused;
      max_people = how many people it follows (see BlazePoseDetector).
    mmpose: config = MMPose top-down config (path, or a config name shipped with mmpose;
      default HRNet-w32 COCO 256x192); checkpoint = local file or URL (required; "none"
      gives random weights, for tests only). Further options: see MMPoseDetector.
    static_image: treat every frame on its own (images) instead of tracking (video).
    """
    if name == "mediapipe":
        if with_features:
            raise ValueError("detector mediapipe: backbone features (with_features) need --detector mmpose")
        if checkpoint is not None:
            raise ValueError("detector mediapipe: takes no checkpoint; choose the model with "
                             "--det-config lite|full|heavy")
        from .blazepose import BlazePoseDetector
        _check_options(name, BlazePoseDetector, options)
        return BlazePoseDetector(variant=config or "full", static_image=static_image, **options)
    if name == "mmpose":
        from .mmpose_topdown import MMPoseDetector
        _check_options(name, MMPoseDetector, options)
        return MMPoseDetector(config=config, checkpoint=checkpoint, device=device,
                              static_image=static_image, with_features=with_features, **options)
    raise ValueError(f"detector {name!r}: unknown, choose one of {', '.join(NAMES)}")


def _check_options(name, cls, options):
    known = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"detector {name}: unknown option(s) {', '.join(unknown)}; "
                         f"it takes {', '.join(sorted(known))}")
