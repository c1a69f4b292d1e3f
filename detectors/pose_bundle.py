"""The MediaPipe Tasks PoseLandmarker `.task` bundle, built from the models inside the
installed mediapipe wheel (no package ships the bundle).

The bundle is a stored (not deflated), 4-byte-aligned zip of two TFLite models:
  pose_detector.tflite            modules/pose_detection/pose_detection.tflite, as shipped
                                  (it already carries its image metadata, mean/std 127.5)
  pose_landmarks_detector.tflite  modules/pose_landmark/pose_landmark_<variant>.tflite plus
                                  image-input metadata mean 0 / std 255: the Tasks API
                                  refuses a float input without it, and a wrong mean/std
                                  fails silently (fewer people found).
Built once per variant into a cache folder outside git, keyed on both models' hashes,
so a different wheel or a replaced lite/heavy model rebuilds it.
"""
import hashlib
import os
from pathlib import Path

VARIANTS = ("lite", "full", "heavy")
MISSING_MODEL = (
    "detector mediapipe: model {variant!r} needs {file}, which the mediapipe wheel does not "
    "ship; take it from the npm package @mediapipe/pose (`npm pack @mediapipe/pose`, "
    "then copy package/{name} into {dir}/), or use --det-config full")
LANDMARK_NORM_MEAN, LANDMARK_NORM_STD = [0.0] * 3, [255.0] * 3  # RGB in [0, 1]


def mediapipe_dir():
    import mediapipe as mp
    return Path(mp.__file__).parent


def model_file(variant):
    """The wheel's landmark model of a variant (lite | full | heavy)."""
    return mediapipe_dir() / "modules" / "pose_landmark" / f"pose_landmark_{variant}.tflite"


def detector_file():
    return mediapipe_dir() / "modules" / "pose_detection" / "pose_detection.tflite"


def cache_dir():
    """$MOCAP_CACHE_DIR, else $XDG_CACHE_HOME/monocular-pose, else ~/.cache/monocular-pose."""
    if os.environ.get("MOCAP_CACHE_DIR"):
        return Path(os.environ["MOCAP_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "monocular-pose"


def with_image_metadata(model_bytes, mean, std):
    """TFLite model bytes -> the same model with image-input normalisation metadata."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer
    writer = metadata_writer.MetadataWriter.create(bytearray(model_bytes))
    writer.add_image_input(norm_mean=mean, norm_std=std)
    model, _ = writer.populate()
    return bytes(model)


def bundle_path(variant="full"):
    """Path of the variant's .task bundle, built on first use; ValueError if its landmark
    model is missing from the wheel."""
    if variant not in VARIANTS:
        raise ValueError(f"detector mediapipe: unknown model {variant!r}, choose one of {', '.join(VARIANTS)}")
    landmark = model_file(variant)
    if not landmark.is_file():
        raise ValueError(MISSING_MODEL.format(variant=variant, file=landmark, name=landmark.name,
                                              dir=landmark.parent))
    detector_bytes, landmark_bytes = detector_file().read_bytes(), landmark.read_bytes()
    key = hashlib.sha256(detector_bytes + landmark_bytes).hexdigest()[:16]
    out = cache_dir() / f"pose_landmarker_{variant}_{key}.task"
    if out.is_file():
        return out
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.part")  # parallel first runs must not read a half file
    model_asset_bundle_utils.create_model_asset_bundle({
        "pose_detector.tflite": detector_bytes,
        "pose_landmarks_detector.tflite": with_image_metadata(landmark_bytes, LANDMARK_NORM_MEAN,
                                                              LANDMARK_NORM_STD),
    }, str(tmp))
    tmp.replace(out)
    return out
