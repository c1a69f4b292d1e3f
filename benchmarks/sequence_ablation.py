"""uao-sequence ablation on held-out mocap sequences with detector-like noisy 2D.

Held-out CMU subjects 14 and 55 (configs/train_default.yaml val_subjects), 60 fps
(stride 2 of 120 fps), contiguous clips of --frames frames, each seen by one fixed
virtual camera (65 degree lens, 1280 x 720, 3.5-6 m away, random yaw, 10 degree
pitch). 2D: the COCO markers projected, plus temporally correlated noise: a slow drift
(random walk, low-passed), white jitter and short outlier bursts (3 frames), with
detector-like scores falling with the error. The refiner sees only 2D, scores and
intrinsics; the ground truth is read only to score.

Prints a table (MPJPE, P-MPJPE, root error in mm, acceleration error in mm/frame^2,
ms per frame) for: the lifter alone; per-frame uao-feature; uao-sequence; uao-sequence
with each term removed in turn; window sizes; iterations. Optionally --json and --plot.

    python benchmarks/sequence_ablation.py [--weights W] [--clips 12] [--frames 250]
                                           [--noise detector|none] [--json OUT] [--plot OUT.png]
"""
import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lifter import config  # noqa: E402
from lifter.camera import intrinsics_from_fov, project  # noqa: E402
from lifter.data import read_folder  # noqa: E402
from lifter.mocap.points import COCO_OFFSET  # noqa: E402
from lifter.metrics import mpjpe, p_mpjpe  # noqa: E402
from lifter.model import load_lifter  # noqa: E402
from lifter.refine import RefineOptions, SequenceRefiner, lift  # noqa: E402
from lifter.skeleton import to_lifter_input  # noqa: E402

MOCAP = config.shared_data("cmu-mocap")[0]
HELDOUT = set(config.HELDOUT_SUBJECTS) & {"14", "55"}  # the held-out subjects of that folder
INTR = intrinsics_from_fov(1280, 720)


def camera_view(points, rng):
    """World points (T, P, 3) Y-up -> camera frame (T, P, 3): one fixed camera looking
    at the clip's mean pelvis from 3.5-6 m, random yaw, 10 degrees down."""
    yaw = rng.uniform(0, 2 * np.pi)
    c, s = np.cos(yaw), np.sin(yaw)
    R = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    p = np.radians(10.0)
    tilt = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    centre = points[:, 0].mean(0)
    cam = (points - centre) @ R.T * np.array([1.0, -1.0, -1.0])   # Y-up -> y down, z forward
    return cam @ tilt.T + [0.0, 0.0, rng.uniform(3.5, 6.0)]


def correlated_noise(px, rng):
    """(T, P, 2) pixels -> noisy pixels and scores (T, P): drift + jitter + bursts."""
    T, P, _ = px.shape
    height = np.ptp(px[..., 1], axis=1).mean()
    walk = np.cumsum(rng.normal(0, 1, (T, P, 2)), 0)
    kernel = np.exp(-0.5 * (np.arange(-15, 16) / 6.0) ** 2)
    walk = np.apply_along_axis(lambda v: np.convolve(v, kernel / kernel.sum(), "same"), 0, walk)
    walk = (walk - walk.mean(0)) / (walk.std() + 1e-9) * 0.01 * height      # drift, 1 % of height
    jitter = rng.normal(0, 0.006 * height, (T, P, 2))
    burst = np.zeros((T, P, 2))
    for t, j in zip(*np.nonzero(rng.random((T, P)) < 0.01)):
        ang = rng.uniform(0, 2 * np.pi)
        burst[t:t + 3, j] += rng.uniform(0.05, 0.15) * height * np.array([np.cos(ang), np.sin(ang)])
    noise = walk + jitter + burst
    err = np.linalg.norm(noise, axis=-1) / height
    scores = np.clip(1.0 - 4 * err + rng.normal(0, 0.05, err.shape), 0.05, 1.0)
    return px + noise, scores


def make_clips(n_clips, frames, seed, noise=True):
    """Held-out clips: list of dicts keypoints_px (T, 17, 2), scores (T, 17),
    joints_m (T, 17, 3) root-relative and root_m (T, 3), camera frame."""
    trials = [t for t in read_folder(str(MOCAP), stride=2, subjects=HELDOUT) if len(t.points) >= frames]
    if not trials:
        raise ValueError(f"mocap {MOCAP}: no held-out trial of subjects {sorted(HELDOUT)} with {frames} frames")
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(n_clips):
        t = trials[i % len(trials)]
        a = rng.integers(0, len(t.points) - frames + 1)
        cam = camera_view(t.points[a:a + frames].astype(np.float64), rng)
        px = project(cam[:, COCO_OFFSET:], INTR)
        sc = np.ones(px.shape[:2])
        if noise:
            px, sc = correlated_noise(px, rng)
        kp, sc = to_lifter_input(px, sc, "coco17")
        clips.append({"keypoints_px": kp, "scores": sc, "joints_m": cam[:, :COCO_OFFSET] - cam[:, :1],
                      "root_m": cam[:, 0], "trial": t.name})
    return clips


def accel_error_mm(pred, target):
    """Mean over frames and joints of ||a_pred - a_gt|| (second differences, mm/frame^2)."""
    a = lambda x: x[:-2] - 2 * x[1:-1] + x[2:]  # noqa: E731
    return float(np.linalg.norm(a(pred) - a(target), axis=-1).mean() * 1e3)


def evaluate(model, clips, options):
    """Every clip as one track through lift(); metrics averaged over frames."""
    rows = {"mpjpe_mm": [], "p_mpjpe_mm": [], "root_error_mm": [], "accel_error_mm": []}
    ms = 0.0
    frames = 0
    for c in clips:
        t = time.perf_counter()
        r = lift(model, c["keypoints_px"], c["scores"], INTR, options)
        ms += (time.perf_counter() - t) * 1e3
        frames += len(r.joints_m)
        j = r.joints_m.astype(np.float64)
        rows["mpjpe_mm"].append(mpjpe(j, c["joints_m"]).mean() * 1e3)
        rows["p_mpjpe_mm"].append(p_mpjpe(j, c["joints_m"]).mean() * 1e3)
        rows["root_error_mm"].append(np.linalg.norm(r.root_m - c["root_m"], axis=-1).mean() * 1e3)
        rows["accel_error_mm"].append(accel_error_mm(j, c["joints_m"]))
    out = {k: float(np.mean(v)) for k, v in rows.items()}
    out["ms_per_frame"] = ms / frames
    return out


def evaluate_live(model, clips, options):
    """Every clip frame by frame through SequenceRefiner (causal sliding window)."""
    rows = {"mpjpe_mm": [], "p_mpjpe_mm": [], "root_error_mm": [], "accel_error_mm": []}
    ms, frames = 0.0, 0
    refiner = SequenceRefiner(model, options)
    for i, c in enumerate(clips):
        out = []
        t = time.perf_counter()
        for kp, sc in zip(c["keypoints_px"], c["scores"]):
            out.append(refiner.update(i, kp, sc, INTR))
        ms += (time.perf_counter() - t) * 1e3
        frames += len(out)
        refiner.forget(i)
        j = np.stack([o[0] for o in out]).astype(np.float64)
        root = np.stack([o[1] for o in out])
        rows["mpjpe_mm"].append(mpjpe(j, c["joints_m"]).mean() * 1e3)
        rows["p_mpjpe_mm"].append(p_mpjpe(j, c["joints_m"]).mean() * 1e3)
        rows["root_error_mm"].append(np.linalg.norm(root - c["root_m"], axis=-1).mean() * 1e3)
        rows["accel_error_mm"].append(accel_error_mm(j, c["joints_m"]))
    out = {k: float(np.mean(v)) for k, v in rows.items()}
    out["ms_per_frame"] = ms / frames
    return out


def configurations(iters, windows):
    seq = RefineOptions(mode="uao-sequence")
    runs = {"lifter alone": RefineOptions(mode="none"),
            "per-frame uao-feature": RefineOptions(mode="uao-feature"),
            "uao-sequence": seq,
            "  without bones": replace(seq, lambda_bone=0.0),
            "  without joint smoothness": replace(seq, lambda_smooth=0.0),
            "  without root smoothness": replace(seq, lambda_root_smooth=0.0),
            "  without uncertainty prior": replace(seq, lambda_unc=1e-6),
            "  without projection": replace(seq, lambda_proj=0.0)}
    runs["live sliding window (sequence-live)"] = RefineOptions.preset("sequence-live")
    runs["live without time budget"] = replace(RefineOptions.preset("sequence-live"), max_ms=0.0)
    for w in windows:
        runs[f"  window {w}"] = replace(seq, window=w)
    for n in iters:
        runs[f"  {n} iterations"] = replace(seq, iters=n)
    return runs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=config.DEFAULT_WEIGHTS)
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--noise", choices=("detector", "none"), default="detector")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", default="1,2,8", help="iteration counts to sweep")
    ap.add_argument("--windows", default="16,64", help="window sizes to sweep")
    ap.add_argument("--only", help="comma-separated configuration names (default: all)")
    ap.add_argument("--json")
    ap.add_argument("--plot")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        model = load_lifter(args.weights)
        clips = make_clips(args.clips, args.frames, args.seed, args.noise == "detector")
    except ValueError as e:
        sys.exit(f"sequence_ablation: {e}")
    runs = configurations([int(v) for v in args.iters.split(",") if v], [int(v) for v in args.windows.split(",") if v])
    if args.only:
        runs = {k: v for k, v in runs.items() if k.strip() in args.only.split(",")}
    results = {}
    print(f"{len(clips)} clips x {args.frames} frames, 2D noise: {args.noise}")
    print(f"{'configuration':32s} {'MPJPE':>7s} {'P-MPJPE':>8s} {'root':>7s} {'accel':>7s} {'ms/frame':>9s}")
    for name, opts in tqdm(runs.items(), desc="configurations", leave=False):
        r = (evaluate_live if name.startswith("live") else evaluate)(model, clips, opts)
        results[name.strip()] = r
        tqdm.write(f"{name:32s} {r['mpjpe_mm']:7.1f} {r['p_mpjpe_mm']:8.1f} {r['root_error_mm']:7.0f} "
                   f"{r['accel_error_mm']:7.2f} {r['ms_per_frame']:9.2f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"clips": len(clips), "frames": args.frames, "noise": args.noise,
                                               "results": results}, indent=2))
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        names = list(results)
        fig, axes = plt.subplots(1, 2, figsize=(12, 0.35 * len(names) + 1.5))
        for ax, key in zip(axes, ("mpjpe_mm", "accel_error_mm")):
            ax.barh(names[::-1], [results[n][key] for n in names[::-1]])
            ax.set_xlabel(key)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)


if __name__ == "__main__":
    main()
