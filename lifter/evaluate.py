"""Evaluate lifter weights on Human3.6M-layout files or held-out mocap subjects.

    python -m lifter.evaluate --weights weights/gumlp_cmu.pt --h36m DIR [--keypoints gt] [--subjects S9,S11]
    python -m lifter.evaluate --weights weights/gumlp_cmu.pt --mocap ../shared/data/cmu-mocap --subjects 14,55

Prints a per-action table (MPJPE, P-MPJPE in mm) and writes --json. No ground-truth 3D
reaches the lifter or the refiner: only 2D keypoints, scores and intrinsics.
"""
import argparse
import json
import sys
import time

import numpy as np
import torch
from tqdm import tqdm

from .camera import Intrinsics
from .metrics import mpjpe, p_mpjpe, pearson, per_joint_error, spearman
from .model import load_lifter
from .skeleton import FLIP_PERM, JOINTS, to_lifter_input
from .refine import RefineOptions, lift


def _slice_intr(intr, sl):
    """Per-sample intrinsics (array fields) restricted to a batch slice."""
    pick = lambda v: v[sl] if isinstance(v, np.ndarray) else v
    return Intrinsics(pick(intr.fx), pick(intr.fy), pick(intr.cx), pick(intr.cy),
                      pick(intr.width), pick(intr.height), tuple(pick(d) for d in intr.dist))


def _mirror(kp_px, scores, intr):
    """The mirrored image's keypoints: u -> 2 cx - u (so rays flip sign), left <-> right."""
    kp = kp_px[:, FLIP_PERM].copy()
    kp[..., 0] = 2 * np.asarray(intr.cx) - kp[..., 0]
    return kp, scores[:, FLIP_PERM]


def predict(model, kp_px, scores, intr, options, flip=False, batch=256, device="cpu", desc=None):
    """Lift (and refine) in batches (256: the refiner's sweet spot on a CPU), with a
    progress bar when `desc` is given. Returns joints (N,17,3), root (N,3), sigma (N,17)."""
    out = {"joints": [], "root": [], "sigma": []}
    for i in tqdm(range(0, len(kp_px), batch), desc=desc, unit="batch", leave=False, disable=desc is None):
        sl = slice(i, i + batch)
        bi = _slice_intr(intr, sl)
        r = lift(model, kp_px[sl], scores[sl], bi, options, device)
        joints, sigma = r.joints_m, r.sigma_m
        if flip:
            kpm, scm = _mirror(kp_px[sl], scores[sl], bi)
            rm = lift(model, kpm, scm, bi, options, device)
            joints = 0.5 * (joints + rm.joints_m[:, FLIP_PERM] * np.array([-1.0, 1, 1], np.float32))
            sigma = 0.5 * (sigma + rm.sigma_m[:, FLIP_PERM])
        out["joints"].append(joints)
        out["root"].append(r.root_m)
        out["sigma"].append(sigma)
    return {k: np.concatenate(v) for k, v in out.items()}


def summarise(pred, gt, sigma, actions, root_pred=None, root_gt=None):
    """Per-action and overall figures; overall MPJPE = mean of the per-action means."""
    err, perr = mpjpe(pred, gt) * 1000, p_mpjpe(pred, gt) * 1000
    per_action = {a: {"mpjpe_mm": float(err[actions == a].mean()), "p_mpjpe_mm": float(perr[actions == a].mean()),
                      "frames": int((actions == a).sum())} for a in sorted(set(actions))}
    pj = per_joint_error(pred, gt)
    res = {"mpjpe_mm": float(np.mean([v["mpjpe_mm"] for v in per_action.values()])),
           "p_mpjpe_mm": float(np.mean([v["p_mpjpe_mm"] for v in per_action.values()])),
           "mpjpe_all_frames_mm": float(err.mean()),
           "per_action": per_action,
           "per_joint_mpjpe_mm": dict(zip(JOINTS, (pj.mean(0) * 1000).round(1).tolist())),
           # the root joint is zero by construction: leave it out of the correlation
           "sigma_error_pearson": pearson(sigma[:, 1:], pj[:, 1:]),
           "sigma_error_spearman": spearman(sigma[:, 1:], pj[:, 1:]),
           "frames": int(len(pred))}
    if root_pred is not None:
        res["root_error_mm"] = float(np.linalg.norm(root_pred - root_gt, axis=-1).mean() * 1000)
    return res


def load_eval_data(a):
    """-> kp_px (N,17,2) lifter-input layout, scores, intr (per-sample), gt, root, actions."""
    if a.h36m:
        from .h36m import load_sequences
        seqs = load_sequences(a.h36m, a.keypoints, a.subjects or ("S9", "S11"), a.stride)
        kp = np.concatenate([s.keypoints_px for s in seqs])
        kp, _ = to_lifter_input(kp, None, "h36m17")
        col = lambda f: np.concatenate([np.full((len(s.keypoints_px), 1), f(s.intr)) for s in seqs])
        intr = Intrinsics(col(lambda i: i.fx), col(lambda i: i.fy), col(lambda i: i.cx), col(lambda i: i.cy),
                          col(lambda i: i.width), col(lambda i: i.height),
                          tuple(col(lambda i, k=k: i.dist[k]) for k in range(5)))
        return (kp, np.ones(kp.shape[:2], np.float32), intr,
                np.concatenate([s.joints_m for s in seqs]), np.concatenate([s.root_m for s in seqs]),
                np.concatenate([np.full(len(s.keypoints_px), s.action) for s in seqs]))
    from .generator import eval_samples
    if not a.subjects:
        raise ValueError("--mocap needs --subjects (held-out subjects, e.g. 14,55)")
    s = eval_samples(a.mocap, a.subjects, a.samples, seed=a.seed)
    return s["keypoints_px"], s["scores"], s["intr"], s["joints_m"], s["root_m"], s["action"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="weights/gumlp_cmu.pt")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--h36m", help="folder with data_3d_h36m.npz and data_2d_h36m_<keypoints>.npz")
    src.add_argument("--mocap", nargs="+", help="mocap folder(s); with --subjects")
    ap.add_argument("--keypoints", default="gt", help="2D file suffix: gt | cpn_ft_h36m_dbb | ...")
    ap.add_argument("--subjects", type=lambda s: [x.strip() for x in s.split(",") if x.strip()])
    ap.add_argument("--stride", type=int, default=1, help="Human3.6M: every N-th frame")
    ap.add_argument("--samples", type=int, default=6000, help="mocap: number of test samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--flip", action="store_true", help="average with the mirrored input")
    ap.add_argument("--refine", default="none", choices=["none", "uao", "uao-feature"])
    ap.add_argument("--iters", type=int, default=4)
    ap.add_argument("--lambda-unc", type=float, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args(argv)
    try:
        model = load_lifter(a.weights, a.device)
        kp, scores, intr, gt, root_gt, actions = load_eval_data(a)
    except ValueError as e:
        sys.exit(f"error: {e}")
    opts = RefineOptions(mode=a.refine, iters=a.iters)
    if a.lambda_unc is not None:
        opts.lambda_unc = a.lambda_unc
    if a.lr is not None:
        opts.lr = a.lr
    t = time.perf_counter()
    p = predict(model, kp, scores, intr, opts, a.flip, device=a.device,
                desc=f"lifting {len(kp)} frames ({a.refine})")
    ms = (time.perf_counter() - t) * 1000 / len(kp)
    res = summarise(p["joints"], gt, p["sigma"], actions, p["root"], root_gt)
    res.update(ms_per_frame=ms, refine=a.refine, iters=a.iters if a.refine != "none" else 0,
               weights=a.weights, keypoints=a.keypoints if a.h36m else "mocap-noisy", flip=a.flip)
    print(f"{'action':<28}{'MPJPE':>9}{'P-MPJPE':>9}{'frames':>8}")
    for name, v in res["per_action"].items():
        print(f"{name[:27]:<28}{v['mpjpe_mm']:9.1f}{v['p_mpjpe_mm']:9.1f}{v['frames']:8d}")
    print(f"{'average':<28}{res['mpjpe_mm']:9.1f}{res['p_mpjpe_mm']:9.1f}{res['frames']:8d}")
    print(f"sigma-error Pearson {res['sigma_error_pearson']:.3f}, Spearman {res['sigma_error_spearman']:.3f}; "
          f"root error {res['root_error_mm']:.0f} mm; {ms:.3f} ms/frame")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return res


if __name__ == "__main__":
    main()
