"""A detector-like noise model for 2D keypoint sequences, and noisy Human3.6M 2D files.

A real 2D detector's error on a video is not white: it drifts slowly (a joint sits a few
pixels off for a second), jitters frame to frame, and now and then jumps far for a few
frames (a limb swap, a missed wrist). The model adds the three, per joint and axis:

  drift    AR(1) process, stationary std `drift_px`, time constant `drift_s` seconds
  jitter   white Gaussian, std `jitter_px`
  outliers a burst of `outlier_frames` frames displaced by ~`outlier_px` in one direction,
           starting with probability `outlier_rate` per joint and frame

Pixel figures are for a 1000 px wide image and scale with the width. With the defaults the
mean error is ~7 px on 1000 px frames (tests/test_sequences.py measures it). One model for
every sequence evaluation: Human3.6M-layout files (`write_noisy_2d`) and held-out mocap.

    python -m lifter.noise2d --h36m DIR --suffix noisy [--seed 0]
writes DIR/data_2d_h36m_noisy.npz from DIR/data_2d_h36m_gt.npz.
"""
import argparse
import os
import sys
from dataclasses import dataclass

import numpy as np

REFERENCE_WIDTH_PX = 1000.0


@dataclass
class NoiseModel:
    drift_px: float = 4.5
    drift_s: float = 1.0
    jitter_px: float = 3.0
    outlier_rate: float = 0.004
    outlier_px: float = 40.0
    outlier_frames: int = 3


def noisy_keypoints(keypoints_px, fps, width_px, rng, model=NoiseModel()):
    """(T, J, 2) clean pixels of one video -> (noisy (T, J, 2) px, scores (T, J)).

    Frames are consecutive at `fps`; scores fall with the error as a detector's do.
    """
    kp = np.asarray(keypoints_px, np.float64)
    T, J = kp.shape[:2]
    scale = width_px / REFERENCE_WIDTH_PX
    a = np.exp(-1.0 / max(model.drift_s * fps, 1e-9))  # AR(1) coefficient per frame
    drift = np.empty((T, J, 2))
    drift[0] = rng.normal(0, model.drift_px, (J, 2))
    innovation = rng.normal(0, model.drift_px * np.sqrt(1 - a * a), (T, J, 2))
    for t in range(1, T):
        drift[t] = a * drift[t - 1] + innovation[t]
    noise = drift + rng.normal(0, model.jitter_px, (T, J, 2))
    starts = np.argwhere(rng.random((T, J)) < model.outlier_rate)
    for t, j in starts:
        angle = rng.uniform(0, 2 * np.pi)
        jump = rng.uniform(0.5, 1.5) * model.outlier_px
        noise[t:t + model.outlier_frames, j] += jump * np.array([np.cos(angle), np.sin(angle)])
    noise *= scale
    err_ref_px = np.linalg.norm(noise, axis=-1) / scale
    scores = np.clip(1.0 - err_ref_px / 60.0 + rng.normal(0, 0.03, err_ref_px.shape), 0.05, 1.0)
    return kp + noise, scores.astype(np.float32)


def write_noisy_2d(folder, suffix, seed=0, model=NoiseModel()):
    """DIR/data_2d_h36m_gt.npz -> DIR/data_2d_h36m_<suffix>.npz with the noise model applied
    to every camera sequence (50 fps, each camera's own width). Returns the mean error (px)."""
    from .h36m import CAMERA_IDS, load_cameras, read_2d
    if not suffix or suffix == "gt" or os.sep in suffix:
        raise ValueError(f"--suffix {suffix!r}: must be a plain name other than gt")
    pos2, metadata = read_2d(os.path.join(folder, "data_2d_h36m_gt.npz"))
    cams = load_cameras()
    rng = np.random.default_rng(seed)
    out, errors = {}, []
    for subject in sorted(pos2):
        out[subject] = {}
        for action in sorted(pos2[subject]):
            views = []
            for cam_id, kp in zip(CAMERA_IDS, pos2[subject][action]):
                width = cams[subject][cam_id]["res_w"] if subject in cams else REFERENCE_WIDTH_PX
                noisy, _ = noisy_keypoints(kp, 50.0, width, rng, model)
                errors.append(np.linalg.norm(noisy - kp, axis=-1).ravel())
                views.append(noisy.astype(np.float32))
            out[subject][action] = views
    path = os.path.join(folder, f"data_2d_h36m_{suffix}.npz")
    np.savez(path, positions_2d=out, metadata=metadata)
    return float(np.concatenate(errors).mean()) if errors else 0.0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m lifter.noise2d", description=__doc__.split("\n\n")[0])
    ap.add_argument("--h36m", required=True, help="folder with data_2d_h36m_gt.npz")
    ap.add_argument("--suffix", default="noisy", help="writes data_2d_h36m_<suffix>.npz (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    try:
        err = write_noisy_2d(a.h36m, a.suffix, a.seed)
        print(f"wrote {os.path.join(a.h36m, f'data_2d_h36m_{a.suffix}.npz')}: mean 2D error {err:.1f} px")
        return 0
    except ValueError as e:  # a missing or damaged input file: one line, exit status 2
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
