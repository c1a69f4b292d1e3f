"""The sequence evaluation protocol: each camera sequence lifted in order as one video.

`lifter.evaluate --sequence-frames L` takes the first L frames of every camera sequence
(Human3.6M-layout files: all 4 cameras, every frame, 50 fps; held-out mocap: contiguous
frames of each trial rendered through 4 fixed cameras at the trial's rate), hands each
sequence's frames in order to the refiner's `lift` in one call (so a sequence refiner sees
one person's consecutive frames), optionally smooths them with the temporal filter, and
scores them per frame and by acceleration error. Only 2D keypoints, scores and
intrinsics reach the lifter and refiner; the ground truth stays here.
"""
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .camera import Intrinsics, project, world_to_camera
from .noise2d import noisy_keypoints
from .skeleton import FLIP_PERM, to_lifter_input
from .temporal import smooth_track


@dataclass
class EvalSequence:
    """One person seen by one fixed camera over consecutive frames."""
    name: str                  # subject/action/camera, for messages
    action: str
    fps: float
    keypoints_px: np.ndarray   # (T, 17, 2) lifter input layout
    scores: np.ndarray         # (T, 17)
    intr: Intrinsics           # one camera for the whole sequence
    joints_m: np.ndarray       # (T, 17, 3) ground truth, camera frame, root-relative
    root_m: np.ndarray         # (T, 3) ground-truth pelvis, camera frame


def h36m_sequences(folder, keypoints, subjects, frames):
    """The first `frames` frames of every camera sequence of a Human3.6M-layout folder."""
    from .h36m import load_sequences
    out = []
    for s in load_sequences(folder, keypoints, subjects, frames=frames):
        kp, _ = to_lifter_input(s.keypoints_px, None, "h36m17")
        out.append(EvalSequence(f"{s.subject}/{s.action}/{s.camera}", s.action, s.fps, kp,
                                np.ones(kp.shape[:2], np.float32), s.intr, s.joints_m, s.root_m))
    return out


def mocap_sequences(mocap_dirs, subjects, frames, noisy, seed=0):
    """Contiguous frames of held-out mocap trials seen by the 4 Human3.6M cameras of S9,
    the person walking about the capture-space centre; 2D = the exact projection of the
    COCO markers a detector reports, or with `noisy` the noise model of lifter.noise2d."""
    from .data import load_trials
    from .mocap.points import COCO_OFFSET
    from .h36m import CAMERA_IDS, intrinsics, load_cameras
    trials = load_trials(mocap_dirs, subjects=set(subjects))
    if not trials:
        raise ValueError(f"no mocap trials for subjects {sorted(subjects)} in {mocap_dirs}")
    cams = load_cameras()["S9"]
    rng = np.random.default_rng(seed)
    out = []
    for t in trials:
        y_up = t.points[:frames].astype(np.float64)
        z_up = np.stack([y_up[..., 0], -y_up[..., 2], y_up[..., 1]], -1)
        z_up[..., :2] -= z_up[:, 0, :2].mean(0)  # the window's mean pelvis at the centre
        for cam_id in CAMERA_IDS:
            c = cams[cam_id]
            intr = intrinsics(c)
            pc = world_to_camera(z_up, np.array(c["R_world_to_cam"]), np.array(c["T_cam_centre_world_mm"]) / 1000)
            px = project(pc[:, COCO_OFFSET:], intr)
            scores = np.ones(px.shape[:2], np.float32)
            if noisy:
                px, scores = noisy_keypoints(px, t.fps, intr.width, rng)
            kp, sc = to_lifter_input(px, scores, "coco17")
            joints = pc[:, :COCO_OFFSET]
            out.append(EvalSequence(f"{t.subject}/{t.name}/{cam_id}", t.action, t.fps, kp, sc, intr,
                                    joints - joints[:, :1], joints[:, 0]))
    return out


def mirror_keypoints(kp_px, scores, intr):
    """The mirrored image's keypoints: u -> 2 cx - u (so rays flip sign), left <-> right."""
    kp = kp_px[:, FLIP_PERM].copy()
    kp[..., 0] = 2 * np.asarray(intr.cx) - kp[..., 0]
    return kp, scores[:, FLIP_PERM]


def predict_sequences(model, seqs, options, lift, smooth="off", flip=False, device="cpu"):
    """Lift every sequence with one `lift` call over its frames in order (every refine mode,
    uao-sequence included), then the temporal filter unless `smooth` is "off".
    Returns a list of dicts: joints (T,17,3), root (T,3), sigma (T,17)."""
    out = []
    for s in tqdm(seqs, desc=f"lifting {len(seqs)} sequences ({options.mode})", unit="seq", leave=False):
        r = lift(model, s.keypoints_px, s.scores, s.intr, options, device)
        joints, sigma = r.joints_m, r.sigma_m
        if flip:
            kpm, scm = mirror_keypoints(s.keypoints_px, s.scores, s.intr)
            rm = lift(model, kpm, scm, s.intr, options, device)
            joints = 0.5 * (joints + rm.joints_m[:, FLIP_PERM] * np.array([-1.0, 1, 1], np.float32))
            sigma = 0.5 * (sigma + rm.sigma_m[:, FLIP_PERM])
        root = r.root_m
        if smooth != "off":
            joints, root = smooth_track(joints, sigma, root, s.scores, mode=smooth, fps=s.fps)
        out.append({"joints": np.asarray(joints), "root": np.asarray(root), "sigma": np.asarray(sigma)})
    return out


def accel_errors_m(pred, gt):
    """(T, 17, 3) predicted and true root-relative joints of one sequence -> (T-2, 17)
    ||a_pred - a_gt|| with a = the second difference over frames (metres / frame^2)."""
    accel = lambda x: x[2:] - 2 * x[1:-1] + x[:-2]
    return np.linalg.norm(accel(np.asarray(pred, np.float64)) - accel(np.asarray(gt, np.float64)), axis=-1)


def accel_error_mm(preds, seqs):
    """Mean over every frame and joint of all sequences of the acceleration error, mm/frame^2."""
    errs = [accel_errors_m(p["joints"], s.joints_m).ravel() for p, s in zip(preds, seqs) if len(s.joints_m) > 2]
    return float(np.concatenate(errs).mean() * 1000) if errs else float("nan")
