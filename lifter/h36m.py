"""Human3.6M in the VideoPose3D npz layout: loading, cameras, and training trials.

Files (see README): data_3d_h36m.npz (`positions_3d`: subject -> action -> (F, 32, 3)
metres, world, Z up) and data_2d_h36m_<keypoints>.npz (`positions_2d`: subject ->
action -> 4 arrays (F, 17, 2) pixels, one per camera, in CAMERA_IDS order).
Calibration: the project's copy of the published parameters, h36m_cameras.json.
"""
import json
import os
from dataclasses import dataclass

import numpy as np

from .camera import Intrinsics, project, world_to_camera
from .config import H36M_TEST_SUBJECTS
from .data import Trial
from .mocap.points import COCO_OFFSET, NUM_POINTS
from .safe_npz import load_npz
from .skeleton import COCO_JOINTS, JOINTS

CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")
KEEP_32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
_CAMERAS = os.path.join(os.path.dirname(__file__), "h36m_cameras.json")


def load_cameras(path=_CAMERAS):
    with open(path) as f:
        return json.load(f)


def intrinsics(cam):
    """Intrinsics of one camera entry. Radial terms are exact; the file's tangential pair
    (~1e-3) is applied by a slightly different formula than OpenCV's. Mapped as below,
    projections differ from the published formula by at most 1 px at the image corners
    and under 0.5 px where people stand (tests/test_lifter.py checks the latter)."""
    k, p = cam["k"], cam["p"]
    return Intrinsics(cam["f"][0], cam["f"][1], cam["c"][0], cam["c"][1], cam["res_w"], cam["res_h"],
                      (k[0], k[1], p[0], p[1], k[2]))


def _load_dict(path, key):
    """The pickled dict `key` of a VideoPose3D npz, read without running its pickle's code."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: not found")
    arrays = load_npz(path)
    if key not in arrays:
        raise ValueError(f"{path}: no '{key}' array (not a VideoPose3D-layout file)")
    value = arrays[key]
    if value.shape != () or not isinstance(value.item(), dict):
        raise ValueError(f"{path}: '{key}' is not a pickled dict (not a VideoPose3D-layout file)")
    return value.item()


def read_2d(path):
    """-> (positions_2d {subject: {action: [4 x (F, 17, 2)]}}, metadata dict) of a 2D file."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: not found")
    arrays = load_npz(path)
    if "positions_2d" not in arrays:
        raise ValueError(f"{path}: no 'positions_2d' array (not a VideoPose3D-layout file)")
    pos2 = _load_dict(path, "positions_2d")
    meta = arrays["metadata"].item() if "metadata" in arrays and arrays["metadata"].shape == () else {}
    return pos2, meta


def _nested(table, path, what):
    """Check the subject -> action -> value nesting of a layout dict."""
    for subject, actions in table.items():
        if not isinstance(subject, str) or not isinstance(actions, dict) \
                or not all(isinstance(a, str) for a in actions):
            raise ValueError(f"{path}: {what} is not a mapping subject -> action -> data")
    return table


def _action_name(action):
    return action.split(" ")[0].replace("TakingPhoto", "Photo").replace("WalkingDog", "WalkDog")


def _array(value, path, subject, action):
    """A float64 array of an npz entry; anything else is a one-line error naming the file."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        raise ValueError(f"{path}: {subject}/{action} is not a numeric array")
    value = value.astype(np.float64)
    if not np.isfinite(value).all():
        raise ValueError(f"{path}: {subject}/{action} holds non-finite values")
    return value


def _world_17(pos, path, subject, action):
    if pos.ndim != 3 or pos.shape[-1] != 3 or pos.shape[1] not in (17, 32):
        raise ValueError(f"{path}: {subject}/{action} has shape {pos.shape}, expected (frames, 32, 3)")
    return pos[:, KEEP_32_TO_17] if pos.shape[1] == 32 else pos


@dataclass
class Sequence:
    subject: str
    action: str          # action without take number ("Directions")
    camera: str
    fps: float                # 50 (every frame) or 50 / stride
    keypoints_px: np.ndarray  # (F, 17, 2) in Human3.6M's layout
    joints_m: np.ndarray      # (F, 17, 3) camera frame, root-relative
    root_m: np.ndarray        # (F, 3) camera-frame pelvis
    intr: Intrinsics


def load_sequences(folder, keypoints="gt", subjects=H36M_TEST_SUBJECTS, stride=1, frames=None):
    """Every camera sequence of `subjects`: every `stride`-th frame, or with `frames` = L
    the first L frames in order (the sequence protocol; stride is then 1). 50 fps."""
    if os.sep in keypoints or keypoints.startswith("."):
        raise ValueError(f"--keypoints {keypoints!r}: a file suffix (gt, cpn_ft_h36m_dbb, ...), not a path")
    p3 = os.path.join(folder, "data_3d_h36m.npz")
    p2 = os.path.join(folder, f"data_2d_h36m_{keypoints}.npz")
    pos3 = _nested(_load_dict(p3, "positions_3d"), p3, "positions_3d")
    pos2 = _nested(_load_dict(p2, "positions_2d"), p2, "positions_2d")
    cams = load_cameras()
    out = []
    for subject in subjects:
        if subject not in pos3 or subject not in pos2:
            raise ValueError(f"{folder}: subject {subject} missing from {os.path.basename(p3)} or {os.path.basename(p2)}")
        for action, world in sorted(pos3[subject].items()):
            if subject == "S11" and action == "Directions":
                continue  # corrupted video in the original dataset
            world = _world_17(_array(world, p3, subject, action), p3, subject, action)
            views = pos2[subject].get(action)
            if not isinstance(views, (list, tuple)) or len(views) != len(CAMERA_IDS):
                raise ValueError(f"{p2}: {subject}/{action} lacks the 4 camera views")
            for cam_id, kp in zip(CAMERA_IDS, views):
                kp = _array(kp, p2, subject, action)
                if kp.ndim != 3 or kp.shape[1:] != (17, 2):
                    raise ValueError(f"{p2}: {subject}/{action} camera {cam_id} has shape {kp.shape}, expected (frames, 17, 2)")
                n = min(len(kp), len(world), frames or len(world))
                if subject not in cams:
                    raise ValueError(f"{p3}: subject {subject} has no Human3.6M camera calibration")
                c = cams[subject][cam_id]
                cam_pts = world_to_camera(world[:n], np.array(c["R_world_to_cam"]),
                                          np.array(c["T_cam_centre_world_mm"]) / 1000.0)
                sl = slice(0, n, 1 if frames else stride)
                out.append(Sequence(subject, _action_name(action), cam_id, 50.0 / sl.step, kp[sl],
                                    (cam_pts - cam_pts[:, :1])[sl], cam_pts[sl, 0], intrinsics(c)))
    return out


def h36m_trials(folder, subjects):
    """Human3.6M 3D poses as training Trials (Y up, with COCO markers interpolated from the
    joints exactly as lifter.skeleton.LIFTER_FROM_H36M reads Human3.6M-layout 2D)."""
    p3 = os.path.join(folder, "data_3d_h36m.npz")
    pos3 = _nested(_load_dict(p3, "positions_3d"), p3, "positions_3d")
    j = {n: i for i, n in enumerate(JOINTS)}
    trials = []
    for subject in subjects:
        for action, world in sorted(pos3.get(subject, {}).items()):
            w = _world_17(_array(world, folder, subject, action), folder, subject, action)[::2]  # 50 -> 25 fps
            w = np.stack([w[..., 0], w[..., 2], -w[..., 1]], -1)  # Z up -> Y up
            pts = np.zeros((len(w), NUM_POINTS, 3), np.float32)
            pts[:, :COCO_OFFSET] = w
            nose = 0.71 * w[:, j["neck_nose"]] + 0.29 * w[:, j["head"]]
            eyes = 0.46 * w[:, j["neck_nose"]] + 0.54 * w[:, j["head"]]
            for i, name in enumerate(COCO_JOINTS):
                pts[:, COCO_OFFSET + i] = nose if name == "nose" else eyes if name.endswith(("eye", "ear")) \
                    else w[:, j[name]]
            trials.append(Trial(subject, f"{subject}_{action}", _action_name(action), pts, 25.0))
    if not trials:
        raise ValueError(f"{folder}: none of the subjects {list(subjects)} in data_3d_h36m.npz")
    return trials


def write_npz(folder, trials_by_subject, cameras=None):
    """Write mocap Trials in the VideoPose3D layout (data_3d_h36m.npz, data_2d_h36m_gt.npz),
    seen by the Human3.6M cameras of the given subject names (S1 ... S11): a way to run
    `lifter.evaluate --h36m` on any motion. The person stands at the capture-space centre;
    the 2D is the exact projection of the Human3.6M-definition joints."""
    cams = cameras or load_cameras()
    pos3, pos2 = {}, {}
    for subject, trials in trials_by_subject.items():
        pos3[subject], pos2[subject] = {}, {}
        for t in trials:
            y_up = t.points[:, :COCO_OFFSET].astype(np.float64)
            z_up = np.stack([y_up[..., 0], -y_up[..., 2], y_up[..., 1]], -1)
            z_up[..., :2] -= z_up[:, :1, :2]
            full = np.zeros((len(z_up), 32, 3))
            full[:, list(KEEP_32_TO_17)] = z_up
            name = f"{t.action} {t.name}".strip()
            pos3[subject][name] = full
            views = []
            for cid in CAMERA_IDS:
                c = cams[subject][cid]
                pc = world_to_camera(z_up, np.array(c["R_world_to_cam"]), np.array(c["T_cam_centre_world_mm"]) / 1000)
                views.append(project(pc, intrinsics(c)).astype(np.float32))
            pos2[subject][name] = views
    os.makedirs(folder, exist_ok=True)
    np.savez(os.path.join(folder, "data_3d_h36m.npz"), positions_3d=pos3)
    np.savez(os.path.join(folder, "data_2d_h36m_gt.npz"), positions_2d=pos2,
             metadata={"layout_name": "h36m", "num_joints": 17,
                       "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]})
