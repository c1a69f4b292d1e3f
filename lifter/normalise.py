"""What the lifter's 2D input means: intrinsics-normalised, root-centred, scale-free.

The network sees, per joint, the camera ray (X/Z, Y/Z) minus the pelvis ray, divided by
the pose's RMS spread, so neither focal length, image size, distance nor position in the
image changes the input for the same body pose seen along the same ray. The pelvis slot,
always zero after centring, carries the pelvis ray itself instead: it tells the network
from which direction the camera sees the person, which matters for wide lenses.

`screen` is the authors' convention (pixels / width * 2 - [1, h/w], VideoPose3D), kept
for the measured comparison in the model card: it ties the input to one camera.
"""
import numpy as np

from .camera import pixels_to_rays
from .skeleton import PARENTS


def _xp(a):
    if isinstance(a, np.ndarray):
        return np
    import torch
    return torch


def normalise_rays(rays):
    """(..., 17, 2) rays -> (..., 17, 2) network input (numpy or torch)."""
    xp = _xp(rays)
    centred = rays - rays[..., :1, :]
    scale = xp.sqrt((centred ** 2).sum(-1).mean(-1))[..., None, None]
    x = centred / (scale + 1e-8)
    if xp is np:
        x = x.copy()
        x[..., 0, :] = rays[..., 0, :]
        return x.astype(np.float32)
    return xp.cat([rays[..., :1, :], x[..., 1:, :]], dim=-2)


def normalise_screen(kp_px, width, height):
    """The authors' VideoPose3D normalisation: x / w * 2 - [1, h / w].

    kp_px (B, 17, 2); width, height scalars or per-sample (B, 1) arrays."""
    w = np.asarray(width, np.float64).reshape(-1, 1, 1)
    h = np.asarray(height, np.float64).reshape(-1, 1, 1)
    return kp_px / w * 2 - np.concatenate([np.ones_like(w), h / w], -1)


def fill_missing(kp, valid):
    """Replace invalid joints by their nearest valid ancestor (pelvis: mean of valid).

    kp: (B, 17, 2) numpy, valid: (B, 17) bool. The filled joints keep score 0, so the
    refiner ignores them; the network just sees a folded limb instead of garbage.
    """
    kp = kp.copy()
    count = np.maximum(valid.sum(-1), 1)[:, None]
    centre = (kp * valid[..., None]).sum(1) / count  # 0 when nothing is valid
    kp[:, 0] = np.where(valid[:, :1], kp[:, 0], centre)
    for j, p in enumerate(PARENTS):
        if p >= 0:
            kp[:, j] = np.where(valid[:, j:j + 1], kp[:, j], kp[:, p])
    return kp


def normalise_keypoints(kp_px, intr, valid=None, mode="rays"):
    """(B, 17, 2) pixels -> (B, 17, 2) float32 network input, handling missing joints."""
    kp_px = np.asarray(kp_px, dtype=np.float64)
    if valid is None:
        valid = np.isfinite(kp_px).all(-1)
    kp_px = fill_missing(np.nan_to_num(kp_px), valid)
    if mode == "screen":
        return normalise_screen(kp_px, intr.width, intr.height).astype(np.float32)
    return normalise_rays(pixels_to_rays(kp_px, intr))
