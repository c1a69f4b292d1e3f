"""UAO ablation on mocap subjects with detector-like 2D noise (lifter.generator.eval_samples).

No ground truth enters the refinement: the root is estimated from the 2D joints, the
intrinsics and the current pose; ground truth is read only to score the result.

Prints and writes:
  * a table: model only | projection only | projection + uncertainty, for both latents,
    at the library defaults (RefineOptions), plus the authors' preset and the jointly
    optimised root; MPJPE, P-MPJPE, root error (mm), re-projection error (px);
  * MPJPE against iteration count 0..N for both latents, with and without the
    uncertainty term, for several Adam step sizes (the paper's Figure 4 plus the lr
    sweep the defaults were chosen from), as JSON and as a PNG plot.

    python benchmarks/uao_ablation.py [--weights W] [--samples 1000] [--sets heldout train]
                                      [--json OUT] [--plot OUT.png]
"""
import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lifter import config  # noqa: E402
from lifter.camera import Intrinsics  # noqa: E402
from lifter.generator import eval_samples  # noqa: E402
from lifter.metrics import mpjpe, p_mpjpe  # noqa: E402
from lifter.model import load_lifter  # noqa: E402
from lifter.refine import LR, RefineOptions, lift  # noqa: E402

MOCAP = config.shared_data("cmu-mocap", "hdm05-subset", "cmu-bvh", "cmu-iclone-bvh")
HELDOUT = list(config.HELDOUT_SUBJECTS)
TRAIN = ["02", "05", "06", "09", "10", "13", "16", "49", "93", "105"]  # training subjects (in domain)
LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
LAMBDAS = (0.0, 0.005, 0.1, 0.5)  # 0.005: the paper's value, in the authors' units
GN_LAMBDAS = (1e-6, 1e-2, 1e-1, 1.0)  # 1e-6: projection only (keeps the system regular)


def curve_jobs(defaults):
    """(mode, lr, lambda_unc): Adam's lambda sweep at the latent's default lr, its lr
    sweep at the default lambda, for both latents; then Gauss-Newton's lambda sweep."""
    jobs = []
    for mode in ("uao", "uao-feature"):
        for lu in LAMBDAS:
            jobs.append((mode, LR[mode], lu))
        for lr in LRS:
            if (mode, lr, defaults.lambda_unc) not in jobs:
                jobs.append((mode, lr, defaults.lambda_unc))
    return jobs + [("gn", None, lam) for lam in GN_LAMBDAS]


def chunk_intr(intr, sl):
    pick = lambda v: v[sl] if isinstance(v, np.ndarray) else v  # noqa: E731
    return Intrinsics(pick(intr.fx), pick(intr.fy), pick(intr.cx), pick(intr.cy), intr.width, intr.height,
                      intr.dist)


def run(model, data, options, chunk=250, record=False):
    """Lift the whole set in chunks. Returns (LiftResult fields as arrays, curve list)."""
    n = len(data["keypoints_px"])
    outs, curves = [], []
    for a in range(0, n, chunk):
        sl = slice(a, min(a + chunk, n))
        rec = [] if record else None
        r = lift(model, data["keypoints_px"][sl], data["scores"][sl], chunk_intr(data["intr"], sl), options,
                 record=rec)
        outs.append(r)
        if record:
            curves.append(np.stack(rec))  # (iters + 1, b, 17, 3)
    joints = np.concatenate([r.joints_m for r in outs])
    root = np.concatenate([r.root_m for r in outs])
    after = np.concatenate([r.reproj_px_after for r in outs])
    before = np.concatenate([r.reproj_px_before for r in outs])
    curve = np.concatenate(curves, axis=1) if record else None
    return joints, root, before, after, curve


def score(data, joints, root, before, after):
    gt = data["joints_m"]
    return {"mpjpe_mm": float(mpjpe(joints, gt).mean() * 1e3),
            "p_mpjpe_mm": float(p_mpjpe(joints, gt).mean() * 1e3),
            "root_error_mm": float(np.linalg.norm(root - data["root_m"], axis=-1).mean() * 1e3),
            "reproj_px_before": float(before.mean()), "reproj_px_after": float(after.mean())}


def evaluate_set(model, data, iters_max, defaults):
    rows = {}
    base = score(data, *run(model, data, RefineOptions(mode="none"))[:4])
    rows["model only"] = base
    variants = {}
    for mode, name in (("uao", "input, Adam"), ("uao-feature", "feature, Adam")):
        d = replace(defaults, mode=mode, solver="adam")
        variants[f"{name}: projection only"] = replace(d, lambda_unc=0.0)
        variants[f"{name}: projection + uncertainty"] = d
        variants[f"{name}: projection + uncertainty, joint root"] = replace(d, root="joint")
    gn = replace(defaults, mode="uao-feature", solver="gn")
    variants["feature, Gauss-Newton: projection only"] = replace(gn, lambda_unc=GN_LAMBDAS[0])
    variants["feature, Gauss-Newton: projection + uncertainty"] = gn
    variants["feature, Gauss-Newton: + uncertainty, 1 step"] = replace(gn, iters=1)
    variants["authors' preset (input, lr 1e-3, 4 it)"] = RefineOptions.preset("authors")
    for name, opts in tqdm(variants.items(), desc="table", leave=False):
        t = time.perf_counter()
        rows[name] = score(data, *run(model, data, opts)[:4])
        rows[name]["seconds"] = time.perf_counter() - t
    for r in rows.values():
        r["change_pct"] = 100.0 * (r["mpjpe_mm"] / base["mpjpe_mm"] - 1)
    curves = {}
    for mode, lr, lu in tqdm(curve_jobs(defaults), desc="curves", leave=False):
        if mode == "gn":
            opts, key = replace(defaults, mode="uao-feature", solver="gn", lambda_unc=lu, iters=iters_max), \
                f"uao-feature gn lambda_unc={lu:g}"
        else:
            opts, key = replace(defaults, mode=mode, solver="adam", lr=lr, lambda_unc=lu, iters=iters_max), \
                f"{mode} lr={lr:g} lambda_unc={lu:g}"
        curve = run(model, data, opts, record=True)[4]
        err = np.linalg.norm(curve - data["joints_m"][None], axis=-1).mean((1, 2)) * 1e3
        curves[key] = {"mode": mode, "lr": lr, "lambda_unc": lu, "mpjpe_mm": [float(e) for e in err]}
    return rows, curves


def print_table(name, n, rows):
    print(f"\n{name} ({n} samples)")
    print(f"| {'variant':52s} | MPJPE mm | change | P-MPJPE mm | root err mm | reproj px |")
    print(f"|{'-' * 54}|---------:|-------:|-----------:|------------:|----------:|")
    for k, r in rows.items():
        print(f"| {k:52s} | {r['mpjpe_mm']:8.1f} | {r['change_pct']:+5.1f}% | {r['p_mpjpe_mm']:10.1f} | "
              f"{r['root_error_mm']:11.0f} | {r['reproj_px_after']:9.2f} |")


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sets = list(results["sets"])
    fig, axes = plt.subplots(len(sets), 3, figsize=(16, 4 * len(sets)), squeeze=False)
    for row, s in enumerate(sets):
        curves = results["sets"][s]["curves"]
        for col, mode in enumerate(("uao", "uao-feature")):
            ax = axes[row, col]
            d = results["defaults"]
            for c in curves.values():
                if c["mode"] != mode:
                    continue
                if c["lr"] == LR[mode] and (c["lambda_unc"] in LAMBDAS):
                    i, style = LAMBDAS.index(c["lambda_unc"]) if c["lambda_unc"] in LAMBDAS else 9, "-"
                    label = f"lr {c['lr']:g}, " + ("projection only" if c["lambda_unc"] == 0
                                                    else f"lambda_unc {c['lambda_unc']:g}")
                else:
                    i, style = 4 + LRS.index(c["lr"]), "--"
                    label = f"lr {c['lr']:g}, lambda_unc {c['lambda_unc']:g}"
                ax.plot(range(len(c["mpjpe_mm"])), c["mpjpe_mm"], style, color=f"C{i}", label=label)
            base = curves[f"{mode} lr={LR[mode]:g} lambda_unc=0"]["mpjpe_mm"][0]
            ax.set_ylim(top=base * 1.06)  # an overshooting lr would flatten every other curve
            ax.set_title(f"{s}: {'input latent (uao)' if mode == 'uao' else 'feature latent (uao-feature)'}, Adam")
            ax.set_xlabel("iterations")
            ax.set_ylabel("MPJPE (mm)")
            ax.grid(alpha=0.3)
        ax = axes[row, 2]
        for i, lam in enumerate(GN_LAMBDAS):
            c = curves[f"uao-feature gn lambda_unc={lam:g}"]["mpjpe_mm"]
            ax.plot(range(len(c)), c, "-", color=f"C{i}",
                    label="projection only" if i == 0 else f"lambda_unc {lam:g}")
        ax.set_title(f"{s}: feature latent, Gauss-Newton")
        ax.set_xlabel("iterations")
        ax.set_ylabel("MPJPE (mm)")
        ax.grid(alpha=0.3)
        for col in range(3):
            axes[row, col].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=config.DEFAULT_WEIGHTS)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--iters-max", type=int, default=20)
    ap.add_argument("--sets", nargs="+", default=["heldout", "train"], choices=["heldout", "train"])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--json")
    ap.add_argument("--plot")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        model = load_lifter(args.weights)
    except ValueError as e:
        sys.exit(f"uao_ablation: {e}")
    defaults = RefineOptions()
    results = {"weights": args.weights, "samples": args.samples,
               "model_meta": {k: v for k, v in getattr(model, "meta", {}).items() if k != "history"},
               "defaults": asdict(defaults), "sets": {}}
    subjects = {"heldout": HELDOUT, "train": TRAIN}
    for s in args.sets:
        data = eval_samples(MOCAP, subjects[s], args.samples, seed=0)
        rows, curves = evaluate_set(model, data, args.iters_max, defaults)
        results["sets"][s] = {"subjects": subjects[s], "rows": rows, "curves": curves}
        print_table(f"{s} subjects {' '.join(subjects[s])}", len(data["keypoints_px"]), rows)
        print(f"MPJPE (mm) after 0, 4, 10, 20 iterations ({s}):")
        for k, c in curves.items():
            e = c["mpjpe_mm"]
            print(f"  {k:45s} " + "  ".join(f"{e[i]:6.1f}" for i in (0, 4, 10, len(e) - 1) if i < len(e)))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))
        print(f"wrote {args.json}")
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
