"""`lift`: the one call the app and the evaluator use. Lifts 2D keypoints to 3D with a
GUMLP and refines the result as RefineOptions asks; no ground truth anywhere."""
from dataclasses import dataclass

import numpy as np
import torch

from ..camera import pixels_to_rays, solve_root
from ..normalise import fill_missing, normalise_keypoints, normalise_rays
from ..skeleton import NUM_JOINTS
from .folded import FoldedGUMLP
from .objective import FrameProblem, projection_weights, reprojection_error_px
from .options import RefineOptions
from .solvers import refine_frames


@dataclass
class LiftResult:
    joints_m: np.ndarray          # (B, 17, 3) root-relative, camera frame, metres
    root_m: np.ndarray            # (B, 3) estimated camera-frame pelvis position
    sigma_m: np.ndarray           # (B, 17) predicted per-joint uncertainty
    reproj_px_before: np.ndarray  # (B,) mean re-projection error of the unrefined pose
    reproj_px_after: np.ndarray   # (B,) the same after refinement
    iters: int                    # iterations actually run


@dataclass
class LiftInput:
    """One batch of frames prepared for the lifter and the refiner (all (B, ...))."""
    keypoints_px: np.ndarray      # (B, 17, 2) float64, NaN = missing
    weights: np.ndarray           # (B, 17) projection weights (0 = ignored)
    valid: np.ndarray             # (B, 17) bool: the 2D joint is finite
    rays: np.ndarray              # (B, 17, 2) undistorted rays, missing joints filled
    x: torch.Tensor               # (B, 17, 2) float32 network input on the model's device


def check_inputs(keypoints_px, scores):
    """keypoints_px (B, 17, 2) and scores (B, 17) as float64 arrays, or a one-line ValueError."""
    kp = np.asarray(keypoints_px, dtype=np.float64)
    sc = np.asarray(scores, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f"keypoints_px: shape {kp.shape}, expected (B, {NUM_JOINTS}, 2)")
    if sc.shape != kp.shape[:2]:
        raise ValueError(f"scores: shape {sc.shape}, expected {kp.shape[:2]} to match keypoints_px")
    return kp, sc


def model_device(model, device):
    """The model's device, or a one-line ValueError when another one was asked for."""
    have = next(model.parameters()).device
    want = torch.device(device) if device is not None else have
    if want.type != have.type or want.index not in (None, have.index):
        raise ValueError(f"lift: model is on {have} but device {want} was asked for; "
                         f"load the model with that device")
    return have


def prepare(model, keypoints_px, scores, intr, options, device):
    """Check and convert one batch: LiftInput (the model's input normalisation)."""
    kp, sc = check_inputs(keypoints_px, scores)
    w, valid = projection_weights(kp, sc, options.score_threshold)
    filled = fill_missing(np.nan_to_num(kp), valid)
    rays = pixels_to_rays(filled, intr)
    if model.config.get("input_norm", "rays") == "rays":
        x = normalise_rays(rays)
    else:
        x = normalise_keypoints(filled, intr, valid, model.config["input_norm"])
    return LiftInput(kp, w, valid, rays, torch.from_numpy(np.ascontiguousarray(x)).to(device))


def relative(mu):
    """(B, 17, 3) tensor -> float64 numpy, root-relative."""
    j = mu.detach().cpu().numpy().astype(np.float64)
    return j - j[:, :1]


def empty_result():
    z = np.zeros((0,), np.float32)
    return LiftResult(np.zeros((0, NUM_JOINTS, 3), np.float32), np.zeros((0, 3), np.float32),
                      np.zeros((0, NUM_JOINTS), np.float32), z, z.copy(), 0)


def lift(model, keypoints_px, scores, intr, options=None, device=None, record=None):
    """Lift 2D keypoints to 3D and optionally refine them.

    keypoints_px (B, 17, 2) lifter-order pixels (NaN = missing), scores (B, 17),
    intr: Intrinsics (fields may be (B, 1) arrays for per-frame cameras).
    Mode "uao-sequence": the B rows are one person's consecutive frames, in order.
    record: optional list; receives the root-relative pose (B, 17, 3) numpy after 0, 1,
    ..., n iterations (convergence curves for benchmarks; per-frame modes only).
    Returns LiftResult; no ground truth is used anywhere.
    """
    options = options or RefineOptions()
    options.check()
    dev = model_device(model, device)
    if np.asarray(keypoints_px).shape[:1] == (0,):
        check_inputs(keypoints_px, scores)
        return empty_result()
    batch = prepare(model, keypoints_px, scores, intr, options, dev)
    folded = FoldedGUMLP(model)
    if options.mode == "uao-sequence":
        from .sequence import refine_track
        joints0, joints, root, s, done = refine_track(folded, batch, options)
    else:
        problem = FrameProblem(batch.rays, batch.weights, dev)
        trace = None if record is None else []
        mu0, mu, s, done = refine_frames(folded, batch.x, problem, options, trace)
        for m in trace or ():
            record.append(relative(m))
        joints0, joints = relative(mu0), relative(mu)
        root = solve_root(joints, batch.rays, batch.weights)
        s = s.detach().float().cpu().numpy()
    w, kp = batch.weights, batch.keypoints_px
    err0 = reprojection_error_px(joints0, solve_root(joints0, batch.rays, w), kp, w, intr)
    err = reprojection_error_px(joints, root, kp, w, intr)
    return LiftResult(joints.astype(np.float32), root.astype(np.float32), np.exp(s).astype(np.float32),
                      err0, err, done)
