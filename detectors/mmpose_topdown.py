"""MMPose 1.x top-down COCO-17 pose models (HRNet-w32 256x192 by default).

MMPose 1.x has no CPN; its cascaded-pyramid alternatives are the MSPN and RSN configs
(e.g. --det-config td-hm_rsn50_8xb32-210e_coco-256x192). A top-down model needs person
boxes; they come from:
  * an mmdet person detector, when person_config + person_checkpoint are given; else
  * the embedded multi-person BlazePose detector (boxes="mediapipe", the default), run on
    every frame so people who walk in are picked up; when tracking (video), a person it
    misses keeps the box grown from their previous frame's keypoints; or
  * the whole frame (boxes="frame"), replaced by the previous frame's keypoint boxes
    while tracking.
One person found twice (overlapping boxes) is reported once (detectors.similarity).
With with_features=True the four HRNet branch outputs (1/4 ... 1/32 of the crop) of the
same forward pass are returned per person, captured by forward hooks.
"""
import contextlib
import importlib.util
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml

from . import mmpose_compat  # first: patches the imports mmpose needs on this stack
from . import Features, Person
from .frame import as_bgr
from .keypoints import keypoints_bbox, lifter_joints
from .similarity import box_iou, suppress_duplicates
from lifter.skeleton import COCO_JOINTS

DEFAULT_CONFIG = "body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py"
BOX_SOURCES = ("mediapipe", "frame")
PERSON_LABEL = 0  # COCO class 0 is "person" in mmdet's COCO detectors
SAME_PERSON_IOU = 0.3  # a tracked box overlapping a fresh detection this much is that person


def config_root():
    """The configs shipped inside the installed mmpose package (mmpose/.mim/configs)."""
    return Path(importlib.util.find_spec("mmpose").submodule_search_locations[0]) / ".mim" / "configs"


def resolve_config(config):
    """None -> packaged HRNet-w32; an existing path; or a packaged config's file name."""
    if config is None:
        return config_root() / DEFAULT_CONFIG
    path = Path(config).expanduser()
    if path.is_file():
        return path
    name = path.name if path.suffix == ".py" else path.name + ".py"
    hits = sorted(config_root().glob(f"body_2d_keypoint/**/{name}"))
    if not hits:
        raise ValueError(f"--det-config {config}: no such file, nor a config shipped with mmpose")
    return hits[0]


@contextlib.contextmanager
def quiet_mmpose_warnings():
    """Silence the warnings known to be harmless on this stack: mmengine still uses
    pkg_resources; mmcv-lite lacks the EDPose op; the packaged configs name their
    dataset file relative to the mmpose repository."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        warnings.filterwarnings("ignore", message=".*MultiScaleDeformableAttention")
        warnings.filterwarnings("ignore", message=".*metainfo config file")
        yield


def read_config(config_path, with_features):
    """The MMPose config, checked before anything is built: top-down, and HRNet when
    its multi-scale features are wanted."""
    with quiet_mmpose_warnings():
        from mmengine.config import Config
        try:
            cfg = Config.fromfile(str(config_path))
        except Exception as e:  # mmengine raises many types for a bad config
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ValueError(f"--det-config {config_path}: cannot be read ({first})") from None
    if cfg.get("model", {}).get("type") != "TopdownPoseEstimator":
        raise ValueError(f"--det-config {config_path}: not an MMPose top-down pose model")
    if with_features and cfg.model.get("backbone", {}).get("type") != "HRNet":
        raise ValueError(f"--det-config {config_path}: multi-scale features need an HRNet backbone")
    return cfg


def model_zoo_url(config_path):
    """The checkpoint URL MMPose's model zoo lists for a packaged config, or None."""
    for meta in Path(config_path).parent.glob("*.yml"):
        for entry in (yaml.safe_load(meta.read_text()) or {}).get("Models", []):
            if str(entry.get("Config", "")).endswith(Path(config_path).name):
                return entry.get("Weights")
    return None


def missing_checkpoint_message(config_path):
    url = model_zoo_url(config_path)
    where = f"MMPose's model zoo has it at {url}" if url else "see MMPose's model zoo"
    return (f"detector mmpose: no checkpoint for {Path(config_path).name}; pass "
            f"--det-checkpoint FILE_OR_URL ({where}), or --det-checkpoint none for random "
            f"weights (testing only)")


def read_checkpoint(checkpoint, flag="--det-checkpoint"):
    """Local file or http(s) URL -> state dict of tensors, always loaded weights_only."""
    mmpose_compat.allow_numpy_in_checkpoints()
    try:
        if re.match(r"https?://", str(checkpoint)):
            ckpt = torch.hub.load_state_dict_from_url(str(checkpoint), map_location="cpu",
                                                      weights_only=True)
        else:
            if not Path(checkpoint).expanduser().is_file():
                raise ValueError(f"{flag} {checkpoint}: no such file")
            ckpt = torch.load(Path(checkpoint).expanduser(), map_location="cpu", weights_only=True)
    except ValueError:
        raise
    except Exception as e:  # unpickling/zip/network errors come in many types
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(f"{flag} {checkpoint}: cannot be read ({first})") from None
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not state or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{flag} {checkpoint}: holds no model weights (state_dict)")
    return state


def read_weights(checkpoint, config_path, flag="--det-checkpoint"):
    """Checkpoint option -> state dict, read before the model is built so a bad one fails
    fast. None is an error; "none" returns None: random weights, with a warning."""
    if checkpoint is None:
        raise ValueError(missing_checkpoint_message(config_path))
    if str(checkpoint).lower() == "none":
        warnings.warn(f"detector {Path(config_path).stem}: running with RANDOM weights "
                      f"({flag} none); its keypoints are meaningless", stacklevel=3)
        return None
    return read_checkpoint(checkpoint, flag)


def apply_weights(model, state, checkpoint, config_path, flag="--det-checkpoint"):
    """Load a state dict into the built model; every weight of the model must be in it."""
    try:
        missing, _ = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        first = str(e).strip().splitlines()[-1].strip()
        raise ValueError(f"{flag} {checkpoint}: does not fit {Path(config_path).name} "
                         f"({first})") from None
    if missing:
        raise ValueError(f"{flag} {checkpoint}: does not fit {Path(config_path).name} "
                         f"({len(missing)} weights missing, e.g. {missing[0]})")


def check_device(device):
    """The app's --device runs the lifter and the MMPose detector alike."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"--device {device}: not a torch device (cpu, cuda, cuda:0)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available on this machine")
    return str(dev)


class MMPoseDetector:
    name = "mmpose"

    def __init__(self, config=None, checkpoint=None, device="cpu", static_image=False,
                 with_features=False, flip_test=False, boxes="mediapipe", person_config=None,
                 person_checkpoint=None, person_min_score=0.5, min_person_score=0.3,
                 track_min_score=0.3, min_score=0.0, max_people=None):
        """config: MMPose top-down COCO-17 config (path or packaged name), default HRNet-w32.
        checkpoint: file or URL (required), "none" for random weights (tests only).
        static_image: no tracking; every frame gets boxes from the box source.
        boxes: "mediapipe" (embedded detector's box) | "frame" (whole frame), used when no
          mmdet person detector (person_config + person_checkpoint) is given.
        person_min_score: mmdet box score threshold; min_person_score: drop people whose
          mean keypoint score is lower (also ends a track); track_min_score: keypoints
          scored at least this make the next frame's box; min_score: lifter joints
          scored below it become NaN; max_people: the box detector's cap (BlazePose's
          default when None)."""
        if boxes not in BOX_SOURCES:
            raise ValueError(f"detector mmpose: unknown box source {boxes!r}, "
                             f"choose one of {', '.join(BOX_SOURCES)}")
        config_path = resolve_config(config)
        device = check_device(device)
        cfg = read_config(config_path, with_features)
        state = read_weights(checkpoint, config_path)
        self.person_detector = None
        if person_config or person_checkpoint:
            self.person_detector = _make_person_detector(person_config, person_checkpoint, device)
        with quiet_mmpose_warnings():
            import mmpose
            from mmpose.apis import init_model
            try:
                model = init_model(cfg, checkpoint=None, device="cpu")
            except Exception as e:  # a readable config can still name unknown modules
                first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise ValueError(f"--det-config {config_path}: cannot build a model ({first})") from None
        names = tuple(model.dataset_meta.get("keypoint_id2name", {}).values())
        if names != COCO_JOINTS:
            raise ValueError(f"--det-config {config_path}: not a COCO-17 keypoint model "
                             f"({len(names)} keypoints)")
        if state is not None:
            apply_weights(model, state, checkpoint, config_path)
        model.test_cfg["flip_test"] = flip_test  # flip test doubles the cost; off for live use
        model.cfg.model.test_cfg.flip_test = flip_test
        self.model = model.to(device).eval()

        self._branch_maps = []
        if with_features:
            for branch in model.backbone.stage4[-1].branches:
                branch.register_forward_hook(lambda m, i, out: self._branch_maps.append(out))
        self.with_features = with_features
        affine = next(t for t in model.cfg.test_dataloader.dataset.pipeline
                      if t["type"] == "TopdownAffine")
        self.input_size = tuple(int(v) for v in affine["input_size"])
        self.use_udp = bool(affine.get("use_udp", False))

        self.boxes = boxes
        self._box_finder = None
        self.tracking = not static_image
        self._track_boxes = []  # tracking: boxes for the next frame
        self.person_min_score = person_min_score
        self.min_person_score = min_person_score
        self.track_min_score = track_min_score
        self.min_score = min_score
        self.max_people = max_people
        weights = "random-weights" if str(checkpoint).lower() == "none" else Path(str(checkpoint)).name
        self.version = f"mmpose {mmpose.__version__} {config_path.stem} {weights}"

    def person_boxes(self, bgr):
        """(N, 4) xyxy boxes for this frame from the best available source."""
        h, w = bgr.shape[:2]
        tracked = np.array(self._track_boxes if self.tracking else [], np.float32).reshape(-1, 4)
        if self.person_detector is not None:
            return self.person_detector(bgr, self.person_min_score)
        if self.boxes == "frame":
            return tracked if len(tracked) else np.array([[0, 0, w - 1, h - 1]], np.float32)
        if self._box_finder is None:
            from .blazepose import BlazePoseDetector
            options = {} if self.max_people is None else {"max_people": self.max_people}
            self._box_finder = BlazePoseDetector(static_image=not self.tracking, **options)
        found = np.array([p.bbox_xyxy for p in self._box_finder(bgr)], np.float32).reshape(-1, 4)
        # a tracked person the box detector missed this frame keeps their own box
        kept = tracked[box_iou(tracked, found).max(1, initial=0.0) < SAME_PERSON_IOU]
        return np.concatenate([found, kept])

    def __call__(self, frame_bgr):
        """(H, W[, 3|4]) uint8 frame -> list[Person] with 17 COCO source keypoints."""
        from mmpose.apis import inference_topdown

        bgr = as_bgr(frame_bgr)
        boxes = self.person_boxes(bgr)
        if not len(boxes):
            self._track_boxes = []
            return []
        self._branch_maps.clear()
        samples = inference_topdown(self.model, bgr, boxes, bbox_format="xyxy")
        people = []
        for k, sample in enumerate(samples):
            kp_coco = sample.pred_instances.keypoints[0].astype(np.float32)
            sc_coco = np.clip(sample.pred_instances.keypoint_scores[0], 0, 1).astype(np.float32)
            if sc_coco.mean() < self.min_person_score:
                continue
            keypoints, scores = lifter_joints(kp_coco, sc_coco, self.min_score)
            features = self._features(sample, k) if self.with_features else None
            people.append(Person(keypoints, scores, boxes[k].astype(np.float32), kp_coco,
                                 sc_coco, "coco17", features))
        people = suppress_duplicates(people)
        boxes = [self._next_box(p, bgr.shape) for p in people]
        self._track_boxes = [b for b in boxes if b is not None]
        return people

    def _features(self, sample, k):
        # A flip test runs the backbone twice; the first 4 captures are the unflipped pass.
        maps = [m[k] for m in self._branch_maps[:4]]
        center, scale = sample.metainfo["input_center"], sample.metainfo["input_scale"]
        from mmpose.structures.bbox import get_udp_warp_matrix, get_warp_matrix
        warp = (get_udp_warp_matrix if self.use_udp else get_warp_matrix)(
            center, scale, 0.0, output_size=self.input_size)
        return Features(maps, cv2.invertAffineTransform(warp), self.input_size)

    def _next_box(self, person, shape):
        """Next frame's box for this person, from its confident keypoints, or None."""
        box = keypoints_bbox(person.source_keypoints_px, person.source_scores,
                             self.track_min_score, pad=0.1)
        if box is None:
            return None
        h, w = shape[:2]
        box = np.clip(box, 0, [w - 1, h - 1, w - 1, h - 1])
        if box[2] - box[0] < 4 or box[3] - box[1] < 4:
            return None
        return box

    def close(self):
        self._track_boxes = []
        if self._box_finder is not None:
            self._box_finder.close()


def _make_person_detector(config, checkpoint, device):
    """An mmdet detector -> callable(bgr, min_score) -> (N, 4) person boxes."""
    if not (config and checkpoint):
        raise ValueError("detector mmpose: an mmdet person detector needs both its config "
                         "and its checkpoint")
    if not mmpose_compat.has_compiled_mmcv_ops():
        raise ValueError("detector mmpose: mmdet person detectors need mmcv's compiled ops "
                         "(NMS); mmcv-lite lacks them: install the full mmcv==2.1.0, or drop "
                         "the person detector to use the embedded detector's boxes")
    from mmdet.apis import inference_detector, init_detector
    if not Path(config).is_file():
        raise ValueError(f"person detector config {config}: no such file")
    flag = "person detector checkpoint"
    state = read_weights(checkpoint, config, flag)
    model = init_detector(str(config), checkpoint=None, device=device)
    if state is not None:
        apply_weights(model, state, checkpoint, config, flag)

    def detect(bgr, min_score):
        inst = inference_detector(model, bgr).pred_instances.cpu().numpy()
        keep = (inst.labels == PERSON_LABEL) & (inst.scores >= min_score)
        return inst.bboxes[keep].astype(np.float32).reshape(-1, 4)
    return detect
