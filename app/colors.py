"""The one colour scale for per-joint uncertainty, shared by the 2D overlay and the 3D viewer.

sigma (metres, the lifter's predicted per-joint uncertainty) maps linearly from green at
SIGMA_GREEN_M (confident) through yellow to red at SIGMA_RED_M (uncertain), clamped.
The ends span what the shipped lifter predicts on real footage (on the demo clip: 25 %
of joints below 0.07 m, median 0.11 m, 95 % below 0.27 m), so yellow sits near the median.
Detector scores use the same ramp reversed: score 1 is green, score 0 red.
"""
import numpy as np

SIGMA_GREEN_M = 0.05
SIGMA_RED_M = 0.20


def ramp_rgb(t):
    """t in [0, 1] (0 good, 1 bad) -> (..., 3) RGB in [0, 1]: green -> yellow -> red."""
    t = np.clip(np.nan_to_num(np.asarray(t, dtype=np.float64), nan=1.0), 0.0, 1.0)
    r = np.clip(2 * t, 0, 1)
    g = np.clip(2 * (1 - t), 0, 1)
    return np.stack([r, g, np.zeros_like(t)], axis=-1)


def sigma_to_rgb(sigma_m):
    return ramp_rgb((np.asarray(sigma_m, dtype=np.float64) - SIGMA_GREEN_M) / (SIGMA_RED_M - SIGMA_GREEN_M))


def score_to_rgb(score):
    return ramp_rgb(1.0 - np.asarray(score, dtype=np.float64))


def rgb_to_bgr255(rgb):
    """(..., 3) RGB in [0, 1] -> (..., 3) tuple-ready BGR uint8 for OpenCV drawing."""
    return (np.asarray(rgb)[..., ::-1] * 255).round().astype(np.uint8)
