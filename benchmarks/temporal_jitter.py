"""Jitter of the 3D skeleton on the real clip, per track and overall, for
--smooth off / causal / offline, and the causal filter's lag.

    python benchmarks/temporal_jitter.py [--json OUT] [--frames 230]

Runs the demo itself (`run_demo.py --viewer none --export DIR --smooth MODE`, default
detector and refinement) once per mode on ../shared/media/sports2d_demo.mp4 and reads
its poses.npz (one slot per track). Figures, per track and pooled over tracks:
* accel_rel_mm: mean |x[t+1] - 2 x[t] + x[t-1]| of the root-relative joints, mm/frame^2,
  over the frames whose two neighbours show the same track;
* accel_root_mm: the same for the root;
* depth_m: root depth 5 / 50 / 95 % and min / max;
* lag_frames (causal only): the shift k (sub-frame, parabolic) minimising the mean
  squared distance between causal[t] and offline[t - k], absolute joints (the root
  dominates); lag_rel_frames the same for the root-relative joints.
Also the app's smoothing cost (app.smoothing.FrameSmoother fed the raw output, ms per
person-frame, causal and offline). Then, on the same raw lifter output, the two causal
filters compared (Kalman vs
sigma-driven One-Euro): the same figures, plus a semi-synthetic accuracy check: the
offline-smoothed trajectory taken as truth, Gaussian noise of the lifter's own sigma
added, and the mean joint error of each filter's output against that truth.
The file default is offline; targets (default vs off): both accelerations <= 0.35x,
root-relative <= 15 mm/frame^2.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from lifter.config import shared_dir  # noqa: E402
CLIP = shared_dir() / "media" / "sports2d_demo.mp4"
MODES = ("off", "causal", "offline")
MAX_LAG = 10


def run_app(mode, frames, out_dir):
    cmd = [sys.executable, "run_demo.py", "--source", str(CLIP), "--viewer", "none", "--no-progress",
           "--export", str(out_dir), "--smooth", mode, "--max-frames", str(frames)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"run_demo.py --smooth {mode} failed:\n{done.stderr[-2000:]}")
    return np.load(out_dir / "poses.npz")


def accelerations_mm(X):
    """(T, ..., 3) with NaN where unseen -> per-triplet mean acceleration (n,) in mm/frame^2."""
    a = np.linalg.norm(X[2:] - 2 * X[1:-1] + X[:-2], axis=-1) * 1e3
    a = a.reshape(len(a), -1).mean(axis=1)
    return a[np.isfinite(a)]


def lag_frames(causal, offline):
    """Sub-frame lag of causal behind offline, both (T, 17, 3) with NaN where unseen."""
    err = []
    for k in range(MAX_LAG + 1):
        d = np.linalg.norm(causal[k:] - offline[:len(offline) - k], axis=-1) ** 2
        err.append(np.nanmean(d))
    err = np.array(err)
    k = int(np.argmin(err))
    if 0 < k < MAX_LAG:  # parabola through the minimum and its neighbours
        a, b, c = err[k - 1:k + 2]
        k = k + 0.5 * (a - c) / max(a - 2 * b + c, 1e-12)
    return float(k)


def track_arrays(z, slot):
    return z["joints_3d_m"][:, slot].astype(np.float64), z["root_m"][:, slot].astype(np.float64)


def figures(joints, roots):
    """Pooled figures over tracks: lists of (T, 17, 3) and (T, 3)."""
    rel = np.concatenate([accelerations_mm(j) for j in joints])
    root = np.concatenate([accelerations_mm(r) for r in roots])
    depth = np.concatenate([r[:, 2] for r in roots])
    depth = depth[np.isfinite(depth)]
    return {"accel_rel_mm": round(float(rel.mean()), 2), "accel_root_mm": round(float(root.mean()), 2),
            "depth_m": [round(float(v), 2) for v in np.r_[np.percentile(depth, [5, 50, 95]),
                                                          depth.min(), depth.max()]],
            "frames": int(sum(np.isfinite(r).all(axis=1).sum() for r in roots))}


def compare_filters(z, fps):
    """Kalman vs One-Euro, causal, on the raw output; and semi-synthetic accuracy."""
    from lifter.temporal import SmoothOptions, smooth_track
    rng = np.random.default_rng(0)
    out = {}
    tracks = [s for s in range(z["track_ids"].shape[0]) if np.isfinite(z["root_m"][:, s]).any()]
    for name, opts in (("kalman", SmoothOptions()), ("one-euro", SmoothOptions(filter="one-euro"))):
        J, R, A, err = [], [], [], []
        for s in tracks:
            j, r = track_arrays(z, s)
            sigma, scores = z["sigma_m"][:, s], z["scores"][:, s]
            cj, cr = smooth_track(j, sigma, r, scores, "causal", fps, options=opts)
            oj, orr = smooth_track(j, sigma, r, scores, "offline", fps)
            J.append(cj), R.append(cr), A.append((cj + cr[:, None], oj + orr[:, None], cj, oj))
            noisy = oj + rng.normal(size=oj.shape) * sigma[..., None] / np.sqrt(3)
            sj, _ = smooth_track(noisy, sigma, orr, scores, "causal", fps, options=opts)
            err.append(np.nanmean(np.linalg.norm(sj - oj, axis=-1)) * 1e3)
            raw_err = np.nanmean(np.linalg.norm(noisy - oj, axis=-1)) * 1e3
        out[name] = figures(J, R) | {
            "lag_frames": round(lag_frames(*(np.concatenate([a[i] for a in A]) for i in (0, 1))), 2),
            "lag_rel_frames": round(lag_frames(*(np.concatenate([a[i] for a in A]) for i in (2, 3))), 2),
            "semi_synthetic_error_mm": round(float(np.mean(err)), 1)}
    out["semi_synthetic_raw_error_mm"] = round(float(raw_err), 1)
    return out


def smoother_cost_ms(z, fps):
    """Mean wall ms per person-frame of app.smoothing.FrameSmoother on the raw output."""
    from app.frame import Frame, PersonPose
    from app.smoothing import FrameSmoother
    out = {}
    for mode in ("causal", "offline"):
        frames = [Frame(int(z["frame"][f]), float(z["time_s"][f]), None, [
            PersonPose(z["keypoints_2d_px"][f, s], z["scores"][f, s], None, z["joints_3d_m"][f, s],
                       z["root_m"][f, s], z["sigma_m"][f, s], int(z["track_ids"][s]))
            for s in range(z["track_ids"].shape[0]) if z["track_id"][f, s] >= 0]) for f in range(len(z["frame"]))]
        smoother = FrameSmoother(mode, fps)
        start = time.perf_counter()
        for frame in frames:
            smoother.push(frame)
        smoother.flush()
        out[mode] = round((time.perf_counter() - start) * 1e3 / max(sum(len(f.people) for f in frames), 1), 3)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=230, help="frames of the clip (it has 230)")
    ap.add_argument("--json", metavar="OUT", help="also write the figures here")
    args = ap.parse_args()
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in MODES:
            print(f"running the demo with --smooth {mode} ...", flush=True)
            runs[mode] = run_app(mode, args.frames, Path(tmp) / mode)
        fps = float(json.loads((Path(tmp) / "off" / "meta.json").read_text())["fps"])
    ids = runs["off"]["track_ids"].tolist()
    result = {"clip": CLIP.name, "frames": args.frames, "tracks": ids, "per_track": {}, "overall": {}}
    for mode in MODES:
        z = runs[mode]
        for s, t in enumerate(z["track_ids"].tolist()):
            j, r = track_arrays(z, s)
            if np.isfinite(r).all(axis=1).sum() >= 3:
                result["per_track"].setdefault(str(t), {})[mode] = figures([j], [r])
        result["overall"][mode] = figures(*zip(*[track_arrays(z, s) for s in range(len(z["track_ids"]))]))
    absolute = {m: [j + r[:, None] for j, r in (track_arrays(runs[m], s) for s in range(len(ids)))]
                for m in ("causal", "offline")}
    relative = {m: [track_arrays(runs[m], s)[0] for s in range(len(ids))] for m in ("causal", "offline")}
    for s, t in enumerate(ids):
        if str(t) in result["per_track"]:
            result["per_track"][str(t)]["causal"] |= {
                "lag_frames": round(lag_frames(absolute["causal"][s], absolute["offline"][s]), 2),
                "lag_rel_frames": round(lag_frames(relative["causal"][s], relative["offline"][s]), 2)}
    result["overall"]["causal"] |= {
        "lag_frames": round(lag_frames(np.concatenate(absolute["causal"]), np.concatenate(absolute["offline"])), 2),
        "lag_rel_frames": round(lag_frames(np.concatenate(relative["causal"]), np.concatenate(relative["offline"])), 2)}
    off, default = result["overall"]["off"], result["overall"]["offline"]
    result["default_vs_off"] = {k: round(default[k] / off[k], 3) for k in ("accel_rel_mm", "accel_root_mm")}
    result["filters_causal"] = compare_filters(runs["off"], fps)
    result["smoother_ms_per_person_frame"] = smoother_cost_ms(runs["off"], fps)

    print(f"\nclip {CLIP.name}, {args.frames} frames, tracks {ids}; accelerations in mm/frame^2")
    print(f"{'track':>8} {'smooth':>8} {'rel accel':>10} {'root accel':>11} {'lag abs/rel (fr)':>17}  "
          f"depth 5/50/95 % (min-max) m")
    for track, by_mode in [*result["per_track"].items(), ("all", result["overall"])]:
        for mode, f in by_mode.items():
            d = f["depth_m"]
            lag = f"{f['lag_frames']:.2f} / {f['lag_rel_frames']:.2f}" if "lag_frames" in f else "-"
            print(f"{track:>8} {mode:>8} {f['accel_rel_mm']:>10.1f} {f['accel_root_mm']:>11.1f} {lag:>17}  "
                  f"{d[0]:.2f}/{d[1]:.2f}/{d[2]:.2f} ({d[3]:.2f}-{d[4]:.2f})")
    r = result["default_vs_off"]
    print(f"default (offline) vs off: root-relative {r['accel_rel_mm']:.3f}x, root {r['accel_root_mm']:.3f}x")
    cost = result["smoother_ms_per_person_frame"]
    print(f"app smoothing cost: causal {cost['causal']} ms, offline {cost['offline']} ms per person-frame")
    fc = result["filters_causal"]
    print(f"causal filters (semi-synthetic: raw error {fc['semi_synthetic_raw_error_mm']} mm)")
    for name in ("kalman", "one-euro"):
        f = fc[name]
        print(f"{name:>10}: rel {f['accel_rel_mm']:.1f}, root {f['accel_root_mm']:.1f}, lag abs/rel "
              f"{f['lag_frames']:.2f}/{f['lag_rel_frames']:.2f} frames, semi-synthetic error "
              f"{f['semi_synthetic_error_mm']} mm")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
