"""Lifting plus UAO test-time refinement: the one call the app and the evaluator use.

INTERFACE STUB: `lift` with mode "none" works; the refinement modes are filled in by the
UAO work (issue 4). Keep the signature and the LiftResult fields stable.
"""
from dataclasses import dataclass

import numpy as np
import torch

from .camera import pixels_to_rays, solve_root
from .normalise import normalise_keypoints


@dataclass
class RefineOptions:
    mode: str = "none"          # none | uao | uao-feature
    iters: int = 4
    lambda_proj: float = 1.0
    lambda_unc: float = 0.005
    lr: float = 1e-3
    score_threshold: float = 0.3  # 2D joints scored below this do not pull the projection
    max_ms: float = 0.0           # > 0: stop refining once this much time has passed (live)


@dataclass
class LiftResult:
    joints_m: np.ndarray          # (B, 17, 3) root-relative, camera frame, metres
    root_m: np.ndarray            # (B, 3) estimated camera-frame pelvis position
    sigma_m: np.ndarray           # (B, 17) predicted per-joint uncertainty
    reproj_px_before: np.ndarray  # (B,) mean re-projection error of the unrefined pose
    reproj_px_after: np.ndarray   # (B,) the same after refinement
    iters: int                    # iterations actually run


def _weights(keypoints_px, scores, threshold):
    valid = np.isfinite(keypoints_px).all(-1) & np.isfinite(scores)
    return np.where(valid & (scores >= threshold), np.nan_to_num(scores), 0.0), valid


def reprojection_error_px(joints_m, root_m, keypoints_px, weights, intr):
    """(B,) weighted mean pixel distance between projected joints and 2D keypoints."""
    from .camera import project
    proj = project(joints_m + root_m[:, None], intr)
    d = np.linalg.norm(proj - np.nan_to_num(keypoints_px), axis=-1)
    return (d * weights).sum(-1) / np.maximum(weights.sum(-1), 1e-9)


@torch.inference_mode()
def lift(model, keypoints_px, scores, intr, options=None, device=None):
    """keypoints_px (B, 17, 2) lifter-order pixels (NaN = missing), scores (B, 17)."""
    options = options or RefineOptions()
    device = device or next(model.parameters()).device
    kp = np.asarray(keypoints_px, dtype=np.float64)
    w, valid = _weights(kp, np.asarray(scores, dtype=np.float64), options.score_threshold)
    x = normalise_keypoints(kp, intr, valid, model.config.get("input_norm", "rays"))
    mu, s = model(torch.from_numpy(x).to(device))
    joints = mu.float().cpu().numpy().astype(np.float64)
    joints -= joints[:, :1]
    rays = pixels_to_rays(np.nan_to_num(kp), intr)
    root = solve_root(joints, rays, w)
    err = reprojection_error_px(joints, root, kp, w, intr)
    return LiftResult(joints.astype(np.float32), root.astype(np.float32),
                      np.exp(s.float().cpu().numpy()), err, err.copy(), 0)
