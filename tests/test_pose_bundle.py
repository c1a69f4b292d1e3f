"""The PoseLandmarker .task bundle is built from the wheel's models once, into the cache."""
import json
import zipfile

import pytest
from mediapipe.tasks.python.metadata import metadata

from detectors.pose_bundle import bundle_path, model_file


def test_bundle_is_built_once_as_a_stored_zip_of_both_models(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCAP_CACHE_DIR", str(tmp_path))
    path = bundle_path("full")
    assert path.parent == tmp_path and path.suffix == ".task"
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["pose_detector.tflite", "pose_landmarks_detector.tflite"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in z.infolist())
        landmarks = z.read("pose_landmarks_detector.tflite")
    # the landmark model now carries its input normalisation (the Tasks API refuses it without)
    meta = json.loads(metadata.MetadataDisplayer.with_model_buffer(landmarks).get_metadata_json())
    unit = meta["subgraph_metadata"][0]["input_tensor_metadata"][0]["process_units"][0]
    assert unit["options"] == {"mean": [0.0] * 3, "std": [255.0] * 3}
    assert landmarks != model_file("full").read_bytes()
    stamp = path.stat().st_mtime_ns
    assert bundle_path("full") == path and path.stat().st_mtime_ns == stamp  # cached, not rebuilt
    assert list(tmp_path.iterdir()) == [path]  # no partial files left behind


def test_unknown_variant_is_a_one_line_error():
    with pytest.raises(ValueError, match="unknown model 'huge'"):
        bundle_path("huge")
