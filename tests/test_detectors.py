"""2D detectors on the real media in ../shared/media: BlazePose for accuracy on a still
and tracking on the clip; MMPose HRNet-w32 for plumbing (random weights saved to a real
checkpoint file and loaded back through the user-facing loader)."""
import functools
import http.server
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from detectors import Person, make_detector
from detectors.keypoints import BLAZEPOSE_TO_COCO, keypoints_bbox, lifter_joints
from detectors.similarity import box_iou, oks, suppress_duplicates
from lifter.config import shared_dir
from lifter.skeleton import COCO_JOINTS, FLIP_PERM, JOINTS, coco_to_lifter

MEDIA = shared_dir() / "media"
J = {name: i for i, name in enumerate(JOINTS)}
# The man with the ball in basketball1.png and basketball2.png, boxed by hand (x0, y0, x1, y1) px.
MAN_BOX = (25, 65, 180, 480)
# BlazePose's 33 landmark names, from MediaPipe's documentation, as an independent check
# of the index table.
BLAZEPOSE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index")


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """As the app runs (--torch-threads 1): on a busy 2-core machine two threads make
    HRNet's forward pass up to 70x slower, not faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def still():
    img = cv2.imread(str(MEDIA / "basketball1.png"), cv2.IMREAD_UNCHANGED)
    assert img is not None and img.ndim == 2  # the still is stored greyscale
    return img


@pytest.fixture(scope="module")
def blazepose_static():
    det = make_detector("mediapipe", static_image=True)
    yield det
    det.close()


def test_blazepose_to_coco_table_matches_landmark_names():
    assert tuple(BLAZEPOSE_NAMES[i] for i in BLAZEPOSE_TO_COCO) == COCO_JOINTS


def test_low_scored_joints_become_missing_and_boxes_need_two_points():
    kp = np.arange(34, dtype=np.float32).reshape(17, 2)
    sc = np.full(17, 0.9, np.float32)
    sc[COCO_JOINTS.index("left_hip")] = 0.1
    joints, scores = lifter_joints(kp, sc, min_score=0.5)
    missing = {JOINTS[j] for j in np.flatnonzero(np.isnan(joints).any(-1))}
    assert missing == {"left_hip", "pelvis", "spine"}  # every joint built from that hip
    assert scores[J["pelvis"]] == pytest.approx(0.1) and scores[J["thorax"]] == pytest.approx(0.9)
    assert keypoints_bbox(kp, np.r_[1.0, np.zeros(16)]) is None
    np.testing.assert_allclose(keypoints_bbox(kp[:2], np.ones(2), pad=0.5), [-1, 0, 3, 4])


@pytest.mark.parametrize("name, count", [("basketball1.png", 1), ("basketball2.png", 2)])
def test_blazepose_finds_the_man_with_plausible_anatomy(blazepose_static, name, count):
    people = blazepose_static(cv2.imread(str(MEDIA / name), cv2.IMREAD_UNCHANGED))
    assert len(people) == count  # basketball2.png: also the man catching, cut off on the right
    p = min(people, key=lambda q: np.nanmean(q.keypoints_px[:, 0]))
    assert isinstance(p, Person) and p.source_format == "blazepose33" and p.features is None
    assert p.keypoints_px.shape == (17, 2) and p.scores.shape == (17,)
    assert p.source_keypoints_px.shape == (33, 2) and p.source_scores.shape == (33,)
    kp = p.keypoints_px
    x0, y0, x1, y1 = MAN_BOX
    assert np.all((kp[:, 0] > x0) & (kp[:, 0] < x1) & (kp[:, 1] > y0) & (kp[:, 1] < y1)), kp
    bx0, by0, bx1, by1 = p.bbox_xyxy
    assert np.all((kp[:, 0] >= bx0) & (kp[:, 0] <= bx1) & (kp[:, 1] >= by0) & (kp[:, 1] <= by1))
    assert p.scores.min() > 0.5 and np.all(p.scores <= 1)
    y = {name: kp[J[name], 1] for name in JOINTS}
    assert y["head"] < y["thorax"] < y["spine"] < y["pelvis"]
    for side in ("left", "right"):
        assert y["pelvis"] < y[f"{side}_knee"] < y[f"{side}_ankle"]
    # He faces the camera, so his left side is on the image's right.
    for part in ("shoulder", "hip", "knee"):
        assert kp[J[f"left_{part}"], 0] > kp[J[f"right_{part}"], 0], part
    # Lifter joints are the shared COCO table applied to the BlazePose subset.
    expect, _ = coco_to_lifter(p.source_keypoints_px[BLAZEPOSE_TO_COCO])
    np.testing.assert_allclose(kp, expect, atol=1e-3)


def test_mirrored_still_swaps_left_and_right(blazepose_static, still):
    kp = blazepose_static(still)[0].keypoints_px
    mirrored = blazepose_static(still[:, ::-1])[0].keypoints_px  # also a non-contiguous view
    expect = kp[list(FLIP_PERM)].copy()
    expect[:, 0] = still.shape[1] - expect[:, 0]
    torso = [J[n] for n in ("pelvis", "left_hip", "right_hip", "thorax", "left_shoulder",
                            "right_shoulder", "left_knee", "right_knee")]
    assert np.abs(mirrored[torso] - expect[torso]).max() < 12


def test_grey_bgr_bgra_and_views_give_the_same_person(blazepose_static, still):
    bgr = cv2.cvtColor(still, cv2.COLOR_GRAY2BGR)
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    padded = np.zeros((still.shape[0] + 10, still.shape[1] + 10, 4), np.uint8)
    padded[5:-5, 5:-5] = bgra
    variants = {"grey": still, "grey1": still[..., None], "bgr": bgr, "bgra": bgra,
                "view": padded[5:-5, 5:-5, :3]}
    assert not variants["view"].flags.c_contiguous
    ref = blazepose_static(bgr)[0].keypoints_px
    for name, frame in variants.items():
        people = blazepose_static(frame)
        assert len(people) == 1, name
        assert np.abs(people[0].keypoints_px - ref).max() < 1.0, name


def test_empty_frame_gives_no_people(blazepose_static):
    assert blazepose_static(np.zeros((480, 640, 3), np.uint8)) == []
    assert blazepose_static(np.full((240, 320), 128, np.uint8)) == []


@pytest.mark.parametrize("frame, words", [
    (np.zeros((48, 64, 3), np.float32), "uint8"),
    (np.zeros((48, 64, 2), np.uint8), "shape"),
    ([[0, 1], [2, 3]], "numpy"),
    (np.zeros((0, 64, 3), np.uint8), "empty"),
    (np.zeros((64, 0), np.uint8), "empty"),
])
def test_bad_frames_are_one_line_errors(blazepose_static, frame, words):
    with pytest.raises(ValueError, match=words) as err:
        blazepose_static(frame)
    assert "\n" not in str(err.value)


def test_blazepose_capped_at_one_tracks_the_man_through_100_frames():
    det = make_detector("mediapipe", max_people=1)  # the woman walking in is never taken for him
    cap = cv2.VideoCapture(str(MEDIA / "sports2d_demo.mp4"))
    pelvis = []
    try:
        for i in range(100):
            ok, frame = cap.read()
            assert ok, f"clip ended at frame {i}"
            people = det(frame)
            assert len(people) <= 1
            pelvis.append(people[0].keypoints_px[J["pelvis"]] if people else None)
            if i >= 10:  # the first frames are sun-glared: BlazePose needs a few to lock on
                assert people, f"lost at frame {i}"
                p = people[0]
                # The man stands on the box (x ~ 450-850 px, feet above y ~ 500 px); the
                # woman walking past has her feet near the bottom of the frame.
                assert 500 < p.keypoints_px[J["pelvis"], 0] < 800, i
                assert p.keypoints_px[[J["left_ankle"], J["right_ankle"]], 1].max() < 520, i
                assert p.scores.mean() > 0.6, i
    finally:
        cap.release()
        det.close()
    assert sum(p is not None for p in pelvis) >= 90
    steps = np.linalg.norm(np.diff(np.array(pelvis[10:]), axis=0), axis=-1)
    assert steps.max() < 40  # no jump to another person


def two_people(still):
    """The still's left half (the man) beside the mirrored still's right half (him again)."""
    half = still.shape[1] // 2
    return np.hstack([still[:, :half], still[:, ::-1][:, half:]])


def test_two_people_in_one_frame_are_both_found(still):
    pair = two_people(still)
    det = make_detector("mediapipe", static_image=True, max_people=4)
    try:
        people = det(pair)
    finally:
        det.close()
    assert len(people) == 2
    xs = sorted(float(np.nanmean(p.keypoints_px[:, 0])) for p in people)
    assert xs[0] < still.shape[1] / 2 < xs[1]


def test_duplicates_of_one_person_are_suppressed(blazepose_static, still):
    p = blazepose_static(still)[0]
    twin = Person(p.keypoints_px + 3.0, p.scores * 0.9, p.bbox_xyxy + 3.0, p.source_keypoints_px,
                  p.source_scores, p.source_format)
    other = Person(p.keypoints_px + [300.0, 0.0], p.scores, p.bbox_xyxy + [300.0, 0, 300.0, 0],
                   p.source_keypoints_px, p.source_scores, p.source_format)
    kept = suppress_duplicates([twin, p, other])
    assert kept == [p, other]  # the better-scored copy stays, order is kept
    np.testing.assert_allclose(oks(p.keypoints_px[None], p.keypoints_px[None], [1e4]), [[1.0]])
    np.testing.assert_allclose(box_iou([0, 0, 2, 2], [[1, 0, 3, 2], [5, 5, 6, 6]]), [[1 / 3, 0.0]])


def test_lite_and_heavy_need_their_model_files():
    import mediapipe
    model_dir = Path(mediapipe.__file__).parent / "modules" / "pose_landmark"
    for variant in ("lite", "heavy"):
        if (model_dir / f"pose_landmark_{variant}.tflite").exists():
            continue
        with pytest.raises(ValueError, match="@mediapipe/pose"):
            make_detector("mediapipe", config=variant)
    with pytest.raises(ValueError, match="unknown model"):
        make_detector("mediapipe", config="huge")


def test_factory_errors():
    with pytest.raises(ValueError, match="unknown"):
        make_detector("openpose")
    with pytest.raises(ValueError, match="mmpose"):
        make_detector("mediapipe", with_features=True)
    with pytest.raises(ValueError, match="unknown option.*flip_test"):
        make_detector("mediapipe", flip_test=True)


# ----------------------------------------------------------------------------- MMPose
HRNET_MAPS = [(32, 64, 48), (64, 32, 24), (128, 16, 12), (256, 8, 6)]


@pytest.fixture(scope="module")
def hrnet_checkpoint(tmp_path_factory):
    """Random HRNet-w32 weights written as an OpenMMLab-style checkpoint (numpy in meta)."""
    with pytest.warns(UserWarning, match="RANDOM"):
        det = make_detector("mmpose", checkpoint="none")
    path = tmp_path_factory.mktemp("ckpt") / "hrnet_w32_random.pth"
    state = {k: v.clone() for k, v in det.model.state_dict().items()}
    torch.save({"meta": {"dataset_meta": {"sigmas": np.full(17, 0.05, np.float32),
                                          "num_keypoints": np.int64(17)}},
                "state_dict": state}, path)
    return path, state


@pytest.fixture(scope="module")
def hrnet(hrnet_checkpoint):
    # static_image: every call gets the whole-frame box, never one tracked from a previous call
    det = make_detector("mmpose", checkpoint=str(hrnet_checkpoint[0]), with_features=True,
                        static_image=True, boxes="frame", min_person_score=0.0)
    yield det
    det.close()


def test_mmpose_loads_the_saved_checkpoint(hrnet, hrnet_checkpoint):
    loaded = hrnet.model.state_dict()
    saved = hrnet_checkpoint[1]
    assert saved.keys() == loaded.keys()
    for name in ("backbone.conv1.weight", "head.final_layer.weight"):
        assert torch.equal(loaded[name], saved[name]), name  # not a fresh random init
    assert hrnet.model.test_cfg["flip_test"] is False
    assert "hrnet-w32" in hrnet.version and "hrnet_w32_random.pth" in hrnet.version


def test_mmpose_output_shapes_features_and_conversion(hrnet, still):
    people = hrnet(still)
    assert len(people) == 1
    p = people[0]
    assert p.source_format == "coco17"
    assert p.keypoints_px.shape == (17, 2) and p.scores.shape == (17,)
    assert p.source_keypoints_px.shape == (17, 2) and p.source_scores.shape == (17,)
    assert np.all((p.scores >= 0) & (p.scores <= 1))
    np.testing.assert_allclose(p.bbox_xyxy, [0, 0, 639, 479])
    kp, sc = coco_to_lifter(p.source_keypoints_px, p.source_scores)
    np.testing.assert_allclose(p.keypoints_px, kp, atol=1e-4)
    np.testing.assert_allclose(p.scores, sc, atol=1e-6)
    f = p.features
    assert [tuple(m.shape) for m in f.maps] == HRNET_MAPS
    assert len(hrnet._branch_maps) == 4  # one forward pass, not a second run
    assert f.input_size == (192, 256) and f.crop_to_image.shape == (2, 3)
    # The crop centre maps to the box centre; keypoints found (score > 0: heatmap
    # maxima) lie inside the crop.
    centre = f.crop_to_image @ np.array([96.0, 128.0, 1.0])
    np.testing.assert_allclose(centre, [319.5, 239.5], atol=0.5)
    to_crop = cv2.invertAffineTransform(f.crop_to_image)
    found = p.source_scores > 0
    assert found.sum() >= 5
    in_crop = p.source_keypoints_px[found] @ to_crop[:, :2].T + to_crop[:, 2]
    assert np.all((in_crop >= -1) & (in_crop <= np.array([192, 256]) + 1)), in_crop


def test_mmpose_flip_test_keeps_features_from_the_unflipped_pass(hrnet, still):
    plain = hrnet(still)[0].features.maps
    hrnet.model.test_cfg["flip_test"] = True
    try:
        flipped = hrnet(still)[0].features.maps
        assert len(hrnet._branch_maps) == 8  # the flip test ran the backbone twice
    finally:
        hrnet.model.test_cfg["flip_test"] = False
    for a, b in zip(plain, flipped):
        torch.testing.assert_close(a, b)


def test_mmpose_boxes_come_from_the_multi_person_detector_every_frame(hrnet_checkpoint, still):
    pair = two_people(still)
    alone = still.copy()
    alone[:, still.shape[1] // 2:] = 0
    det = make_detector("mmpose", checkpoint=str(hrnet_checkpoint[0]), min_person_score=0.0,
                        track_min_score=0.0, max_people=4)
    try:
        assert det(np.zeros_like(alone)) == []  # BlazePose sees nobody, nothing tracked
        first = det(alone)
        assert len(first) == 1 and first[0].bbox_xyxy[2] < still.shape[1] / 2  # the man, left
        # A second person walks in while the first is tracked: picked up at once.
        both = det(pair)
        assert len(both) == 2
        assert sorted(p.bbox_xyxy[0] > still.shape[1] / 2 for p in both) == [False, True]
        # BlazePose loses everyone: the tracked people keep their keypoint boxes (random
        # weights put keypoints anywhere, so only the count and box source are checked).
        kept = det(np.zeros_like(pair))
        assert len(kept) >= 1
    finally:
        det.close()


def test_mmpose_checkpoint_from_a_url(hrnet_checkpoint, tmp_path, monkeypatch):
    """A real HTTP server on 127.0.0.1 stands in for MMPose's model zoo."""
    path, saved = hrnet_checkpoint
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(path.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # torch.hub's download cache
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with pytest.raises(ValueError, match="cannot be read"):
            make_detector("mmpose", checkpoint=url + "absent.pth")
        det = make_detector("mmpose", checkpoint=url + path.name, static_image=True, boxes="frame")
    finally:
        server.shutdown()
    assert torch.equal(det.model.state_dict()["head.final_layer.weight"], saved["head.final_layer.weight"])
    assert list(tmp_path.rglob(path.name))  # downloaded once into the cache


def test_mmpose_missing_checkpoint_says_where_to_get_one():
    with pytest.raises(ValueError, match="--det-checkpoint") as err:
        make_detector("mmpose")
    assert "download.openmmlab.com" in str(err.value) and "none" in str(err.value)


def test_mmpose_bad_checkpoints_are_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    wrong = tmp_path / "wrong.pth"
    torch.save({"state_dict": {"backbone.conv1.weight": torch.zeros(3)}}, wrong)
    for path, words in ((tmp_path / "absent.pth", "no such file"), (garbage, "cannot be read"),
                        (wrong, "does not fit")):
        with pytest.raises(ValueError, match=words) as err:
            make_detector("mmpose", checkpoint=str(path))
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="det-config"):
        make_detector("mmpose", config="td-hm_no_such_model", checkpoint="none")
    with pytest.raises(ValueError, match="not an MMPose top-down"):
        make_detector("mmpose", config="ae_hrnet-w32_8xb24-300e_coco-512x512", checkpoint="none")
    broken = tmp_path / "broken.py"
    broken.write_text("model = dict(type=\n")
    with pytest.raises(ValueError, match="cannot be read"):
        make_detector("mmpose", config=str(broken), checkpoint="none")


def test_mmpose_runs_a_cascaded_pyramid_config_by_name(still):
    """RSN (MMPose 1.x's stand-in for CPN) from its packaged config name."""
    with pytest.warns(UserWarning, match="RANDOM"):
        det = make_detector("mmpose", config="td-hm_rsn18_8xb32-210e_coco-256x192",
                            checkpoint="none", boxes="frame", min_person_score=0.0)
    people = det(still)
    assert len(people) == 1 and people[0].keypoints_px.shape == (17, 2)
    assert "rsn18" in det.version
    with pytest.raises(ValueError, match="HRNet"):
        make_detector("mmpose", config="td-hm_rsn18_8xb32-210e_coco-256x192",
                      checkpoint="none", with_features=True)


def test_mmdet_person_detector_needs_compiled_mmcv_ops(hrnet_checkpoint):
    from detectors import mmpose_compat
    if mmpose_compat.has_compiled_mmcv_ops():
        pytest.skip("full mmcv installed: the mmdet path can run")
    with pytest.raises(ValueError, match="mmcv"):
        make_detector("mmpose", checkpoint=str(hrnet_checkpoint[0]),
                      person_config="det.py", person_checkpoint="det.pth")
