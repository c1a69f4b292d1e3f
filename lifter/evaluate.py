"""Evaluate lifter weights on Human3.6M-layout files or held-out mocap subjects.

    python -m lifter.evaluate --h36m DIR [--keypoints gt|SUFFIX] [--subjects S9,S11] [--weights W]
    python -m lifter.evaluate --mocap ../shared/data/cmu-mocap --subjects 14,55
    python -m lifter.evaluate --h36m DIR --sequence-frames 250 --refine uao-feature [--smooth causal]
    python -m lifter.evaluate --config FILE   # any of these options as YAML keys

Per-frame protocol (default): every --stride-th frame, lifted in batches. Sequence protocol
(--sequence-frames L): the first L frames of every camera sequence, each lifted in order as
one video (lifter/sequences.py), adding the acceleration error. Prints a per-action table
(MPJPE, P-MPJPE in mm) and writes --json. No ground-truth 3D reaches the lifter or the
refiner: only 2D keypoints, scores and intrinsics. Bad input: one line, exit status 2.
"""
import argparse
import json
import sys
import time

import numpy as np
from tqdm import tqdm

from . import config
from .camera import Intrinsics
from .metrics import mpjpe, p_mpjpe, pearson, per_joint_error, spearman
from .model import load_lifter
from .sequences import accel_error_mm, h36m_sequences, mirror_keypoints, mocap_sequences, predict_sequences
from .skeleton import FLIP_PERM, JOINTS, to_lifter_input
from .refine import MODES, RefineOptions, lift

SMOOTH_MODES = ("off", "causal", "offline")


def _slice_intr(intr, sl):
    """Per-sample intrinsics (array fields) restricted to a batch slice."""
    pick = lambda v: v[sl] if isinstance(v, np.ndarray) else v
    return Intrinsics(pick(intr.fx), pick(intr.fy), pick(intr.cx), pick(intr.cy),
                      pick(intr.width), pick(intr.height), tuple(pick(d) for d in intr.dist))


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
            kpm, scm = mirror_keypoints(kp_px[sl], scores[sl], bi)
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
        seqs = load_sequences(a.h36m, a.keypoints, a.subjects or config.H36M_TEST_SUBJECTS, a.stride)
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
    s = eval_samples(a.mocap, a.subjects, a.samples, seed=a.seed)
    return s["keypoints_px"], s["scores"], s["intr"], s["joints_m"], s["root_m"], s["action"]


def build_parser():
    ap = argparse.ArgumentParser(prog="python -m lifter.evaluate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    a = ap.add_argument
    a("--config", metavar="FILE", help="YAML file with any of these options (command line wins)")
    a("--weights", default=config.DEFAULT_WEIGHTS, help="lifter checkpoint (default: %(default)s)")
    a("--h36m", help="folder with data_3d_h36m.npz and data_2d_h36m_<keypoints>.npz")
    a("--mocap", nargs="+", type=str, help="mocap folder(s); with --subjects")
    a("--keypoints", default="gt", help="Human3.6M: 2D file suffix, gt | cpn_ft_h36m_dbb | <SUFFIX> "
      "(see python -m lifter.noise2d); mocap sequences: gt = exact 2D, anything else = the "
      "detector-like noise model (default: %(default)s)")
    a("--subjects", type=config.comma_list, help="comma-separated (default: S9,S11 for --h36m)")
    a("--stride", type=int, default=1, help="Human3.6M per-frame protocol: every N-th frame")
    a("--sequence-frames", type=int, metavar="L", help="sequence protocol: the first L frames of every "
      "camera sequence, each lifted in order as one video")
    a("--samples", type=int, default=6000, help="mocap per-frame protocol: number of test samples")
    a("--seed", type=int, default=0, help="mocap samples and 2D noise")
    a("--flip", action="store_true", default=False, help="average with the mirrored input")
    a("--refine", default="none", choices=MODES, help="test-time refinement (default: %(default)s)")
    a("--smooth", default="off", choices=SMOOTH_MODES,
      help="sequence protocol: the temporal filter after refinement (default: %(default)s)")
    a("--iters", type=int, default=4)
    a("--lambda-unc", type=float, help="refiner's uncertainty weight (default: the refiner's)")
    a("--lr", type=float, help="refiner's Adam step (default: the refiner's)")
    a("--device", default="cpu")
    a("--json", help="write the results here")
    return ap


def check_args(a):
    if bool(a.h36m) == bool(a.mocap):
        raise config.ConfigError("give one of --h36m DIR or --mocap DIR...")
    if a.sequence_frames is not None and a.sequence_frames < 3:
        raise config.ConfigError(f"--sequence-frames {a.sequence_frames}: must be at least 3 "
                                 "(the acceleration needs three frames)")
    if a.smooth != "off" and a.sequence_frames is None:
        raise config.ConfigError(f"--smooth {a.smooth}: needs the sequence protocol (--sequence-frames L)")
    if a.stride < 1 or a.iters < 0 or a.samples < 1:
        raise config.ConfigError("--stride and --samples must be >= 1, --iters >= 0")
    if a.mocap and not a.subjects:
        raise config.ConfigError("--mocap needs --subjects (held-out subjects, e.g. 14,55)")


def options(**values):
    """Options namespace for evaluate(): build_parser's defaults with `values` applied,
    e.g. options(h36m=DIR, sequence_frames=250, refine="uao-feature")."""
    return config.namespace(build_parser(), **values)


def evaluate(a):
    """Run the evaluation described by the options namespace `a` (see options()); the
    library entry point for benchmarks. Returns the result dict (what --json writes)."""
    check_args(a)
    model = load_lifter(str(config.weights_path(a.weights)), a.device)
    opts = RefineOptions(mode=a.refine, iters=a.iters)
    if a.lambda_unc is not None:
        opts.lambda_unc = a.lambda_unc
    if a.lr is not None:
        opts.lr = a.lr
    opts.check()
    t = time.perf_counter()
    if a.sequence_frames:
        seqs = h36m_sequences(a.h36m, a.keypoints, a.subjects or config.H36M_TEST_SUBJECTS, a.sequence_frames) \
            if a.h36m else mocap_sequences(a.mocap, a.subjects, a.sequence_frames, a.keypoints != "gt", a.seed)
        t = time.perf_counter()
        preds = predict_sequences(model, seqs, opts, lift, a.smooth, a.flip, a.device)
        cat = lambda items: np.concatenate(list(items))
        p = {k: cat(q[k] for q in preds) for k in ("joints", "root", "sigma")}
        gt, root_gt = cat(s.joints_m for s in seqs), cat(s.root_m for s in seqs)
        actions = cat(np.full(len(s.joints_m), s.action) for s in seqs)
        extra = {"accel_error_mm": accel_error_mm(preds, seqs), "sequences": len(seqs)}
    else:
        kp, scores, intr, gt, root_gt, actions = load_eval_data(a)
        t = time.perf_counter()
        p = predict(model, kp, scores, intr, opts, a.flip, device=a.device,
                    desc=f"lifting {len(kp)} frames ({a.refine})")
        extra = {"accel_error_mm": None}
    ms = (time.perf_counter() - t) * 1000 / len(gt)
    res = summarise(p["joints"], gt, p["sigma"], actions, p["root"], root_gt)
    res.update(extra, ms_per_frame=ms, refine=a.refine, iters=a.iters if a.refine != "none" else 0,
               weights=a.weights, flip=a.flip, sequence_frames=a.sequence_frames, smooth=a.smooth,
               keypoints=a.keypoints if a.h36m or a.sequence_frames else "mocap-noisy")
    return res


def report(res):
    print(f"{'action':<28}{'MPJPE':>9}{'P-MPJPE':>9}{'frames':>8}")
    for name, v in res["per_action"].items():
        print(f"{name[:27]:<28}{v['mpjpe_mm']:9.1f}{v['p_mpjpe_mm']:9.1f}{v['frames']:8d}")
    print(f"{'average':<28}{res['mpjpe_mm']:9.1f}{res['p_mpjpe_mm']:9.1f}{res['frames']:8d}")
    accel = f"acceleration error {res['accel_error_mm']:.2f} mm/frame^2; " if res["accel_error_mm"] is not None else ""
    print(f"sigma-error Pearson {res['sigma_error_pearson']:.3f}, Spearman {res['sigma_error_spearman']:.3f}; "
          f"root error {res['root_error_mm']:.0f} mm; {accel}{res['ms_per_frame']:.3f} ms/frame")


def main(argv=None):
    """Command line; bad input ends with one line on stderr and exit status 2."""
    try:
        a, _ = config.parse_args(build_parser(), sys.argv[1:] if argv is None else argv)
        res = evaluate(a)
    except ValueError as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        raise SystemExit(2) from None
    report(res)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return res


if __name__ == "__main__":
    main()
