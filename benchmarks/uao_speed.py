"""Speed of the UAO refiner on this machine: ms per frame for the lifter alone, lifter +
`uao` (input latent, Adam), lifter + `uao-feature` (feature latent, the default
Gauss-Newton solver, and Adam as the paper's UAO*), a naive full-autograd baseline,
`uao-sequence` offline (a 64-frame track in one call, batch 64 only) and live
(SequenceRefiner.update, the "sequence-live" preset: one person-frame into a warm
8-frame window, batch 1 only), all measured in one run, interleaved round by round so
that load from other processes hits every variant alike. `sequence_live_added_ms` is
what the live sliding window adds to the lifter per person-frame.

    python benchmarks/uao_speed.py [--weights W] [--iters 4] [--threads 1] [--json OUT]

Without --weights (or if the file is missing) a randomly initialised full-size GUMLP
(width 256, 3 blocks) is timed: speed does not depend on the weights' values.
Two clocks: wall time (the `*_ms` keys) and this process's CPU time (`cpu` block). On a
machine shared with other jobs the CPU time is the steadier figure. One torch thread
by default: at batch 1 the kernels are too small for intra-op threads to pay, and a
live app runs the detector and viewer beside the lifter.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lifter import config  # noqa: E402
from lifter.camera import intrinsics_from_fov, pixels_to_rays, solve_root  # noqa: E402
from lifter.model import GUMLP, load_lifter  # noqa: E402
from lifter.normalise import fill_missing, normalise_keypoints  # noqa: E402
from lifter.refine import (FrameProblem, RefineOptions, SequenceRefiner, lift, projection_weights,  # noqa: E402
                           reprojection_error_px)


def naive_uao(model, kp, scores, intr, options):
    """The loop one writes first: the whole model re-run under full autograd every
    iteration (weights still recording gradients), torch.optim.Adam, a separate forward
    for the initial pose and another for the final one. Same objective as lift()
    (FrameProblem.loss, whose autograd gradient lift's hand-written one reproduces)."""
    w, valid = projection_weights(kp, scores, options.score_threshold)
    x = torch.from_numpy(normalise_keypoints(kp, intr, valid))
    rays = pixels_to_rays(fill_missing(np.nan_to_num(kp), valid), intr)
    problem = FrameProblem(rays, w, "cpu")
    mu0, _ = model(x)
    mu0 = mu0.detach()
    z = x.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=options.lr_used)
    for _ in range(options.iters):
        opt.zero_grad()
        mu, s = model(z)
        problem.loss(mu, mu0, s.detach(), options).sum().backward()
        opt.step()
    mu, s = model(z)
    joints = mu.detach().numpy().astype(np.float64)
    joints -= joints[:, :1]
    root = solve_root(joints, rays, w)
    return joints, root, reprojection_error_px(joints, root, kp, w, intr)


def with_threads(n, fn):
    """Run fn with n torch threads, then restore the benchmark's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


def frames(batch, rng, intr):
    """(B, 17, 2) plausible pixel keypoints: a stick figure at random places/sizes."""
    base = np.array([[0, 0], [-.1, 0], [-.1, .45], [-.1, .9], [.1, 0], [.1, .45], [.1, .9],
                     [0, -.25], [0, -.5], [0, -.6], [0, -.7], [.18, -.48], [.2, -.2], [.22, .05],
                     [-.18, -.48], [-.2, -.2], [-.22, .05]])
    size = rng.uniform(200, 500, (batch, 1, 1))
    centre = np.stack([rng.uniform(300, intr.width - 300, batch), rng.uniform(300, intr.height - 300, batch)], -1)
    kp = base[None] * size + centre[:, None] + rng.normal(0, 4, (batch, 17, 2))
    return kp, rng.uniform(0.4, 1.0, (batch, 17))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=config.DEFAULT_WEIGHTS)
    ap.add_argument("--iters", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=30, help="timed rounds per batch size (median reported)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    ap.add_argument("--json")
    args = ap.parse_args()
    default_threads = torch.get_num_threads()  # "default settings" of the naive baseline
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if os.path.isfile(args.weights):
        model = load_lifter(args.weights)
        source = args.weights
    else:
        model = GUMLP().eval()
        source = "random GUMLP(width=256, blocks=3)"
    intr = intrinsics_from_fov(1768, 994)
    rng = np.random.default_rng(0)
    opts = {"uao": RefineOptions(mode="uao", iters=args.iters),
            "uao_feature": RefineOptions(mode="uao-feature", iters=args.iters),
            "uao_feature_adam": RefineOptions(mode="uao-feature", solver="adam", iters=args.iters),
            "naive": RefineOptions(mode="uao", solver="adam", iters=args.iters)}
    print(f"model: {source}; torch threads {torch.get_num_threads()}; {args.iters} iterations")

    def forward(kp, sc):
        with torch.inference_mode():
            model(torch.from_numpy(normalise_keypoints(kp, intr)))

    variants = {
        "forward_ms": forward,
        "lifter_ms": lambda kp, sc: lift(model, kp, sc, intr, RefineOptions(mode="none")),
        "uao_ms": lambda kp, sc: lift(model, kp, sc, intr, opts["uao"]),
        "uao_default_threads_ms": lambda kp, sc: with_threads(
            default_threads, lambda: lift(model, kp, sc, intr, opts["uao"])),
        "uao_feature_ms": lambda kp, sc: lift(model, kp, sc, intr, opts["uao_feature"]),
        "uao_feature_adam_ms": lambda kp, sc: lift(model, kp, sc, intr, opts["uao_feature_adam"]),
        "naive_uao_ms": lambda kp, sc: naive_uao(model, kp, sc, intr, opts["naive"]),
        "naive_uao_default_threads_ms": lambda kp, sc: with_threads(
            default_threads, lambda: naive_uao(model, kp, sc, intr, opts["naive"])),
    }
    live_options = RefineOptions.preset("sequence-live")
    live = SequenceRefiner(model, live_options)
    warm_kp, warm_sc = frames(live_options.window, rng, intr)
    for k, c in zip(warm_kp, warm_sc):  # a full window, as after the first frames of a track
        live.update(0, k, c, intr)
    per_batch = {1: {"sequence_live_ms": lambda kp, sc: live.update(0, kp[0], sc[0], intr)},
                 64: {"uao_sequence_ms": lambda kp, sc: lift(model, kp, sc, intr, RefineOptions(mode="uao-sequence"))}}
    results = {"model": source, "threads": torch.get_num_threads(), "iters": args.iters,
               "load_average": list(os.getloadavg())}
    for batch in (1, 64):
        kp, sc = frames(batch, rng, intr)
        rounds = args.rounds if batch == 1 else max(3, args.rounds // 6)
        batch_variants = {**variants, **per_batch[batch]}
        times = {k: [] for k in batch_variants}
        cpu = {k: [] for k in batch_variants}
        for f in batch_variants.values():  # warm-up
            f(kp, sc)
        for _ in tqdm(range(rounds), desc=f"batch {batch}", leave=False):
            for k, f in batch_variants.items():
                t, c = time.perf_counter(), time.process_time()
                f(kp, sc)
                times[k].append((time.perf_counter() - t) * 1e3 / batch)
                cpu[k].append((time.process_time() - c) * 1e3 / batch)
        r = {k: float(np.median(v)) for k, v in times.items()}
        r["cpu"] = {k: float(np.median(v)) for k, v in cpu.items()}
        for d in (r, r["cpu"]):
            d["uao_over_lifter"] = d["uao_ms"] / d["lifter_ms"]
            d["uao_feature_over_lifter"] = d["uao_feature_ms"] / d["lifter_ms"]
            d["naive_over_lifter"] = d["naive_uao_ms"] / d["lifter_ms"]
            d["feature_extra_over_forward"] = (d["uao_feature_ms"] - d["lifter_ms"]) / d["forward_ms"]
            d["naive_over_uao"] = d["naive_uao_ms"] / d["uao_ms"]
            d["naive_default_threads_over_uao"] = d["naive_uao_default_threads_ms"] / d["uao_ms"]
            d["naive_over_uao_both_default_threads"] = (d["naive_uao_default_threads_ms"]
                                                        / d["uao_default_threads_ms"])
            if "sequence_live_ms" in d:
                d["sequence_live_added_ms"] = d["sequence_live_ms"] - d["lifter_ms"]
        results[f"batch_{batch}"] = r
        for clock, d in (("wall", r), ("cpu ", r["cpu"])):
            print(f"batch {batch:3d} {clock} (ms/frame, median of {rounds}): forward {d['forward_ms']:.2f} | "
                  f"lifter {d['lifter_ms']:.2f} | +uao {d['uao_ms']:.2f} ({d['uao_over_lifter']:.2f}x) | "
                  f"+uao-feature {d['uao_feature_ms']:.2f} ({d['uao_feature_over_lifter']:.2f}x, extra = "
                  f"{d['feature_extra_over_forward']:.2f} forward passes) | +uao-feature Adam "
                  f"{d['uao_feature_adam_ms']:.2f} | naive {d['naive_uao_ms']:.2f} "
                  f"({d['naive_over_lifter']:.2f}x; uao is {d['naive_over_uao']:.2f}x faster) | naive with torch's "
                  f"default {default_threads} threads {d['naive_uao_default_threads_ms']:.2f} "
                  f"(uao {d['naive_default_threads_over_uao']:.2f}x faster; "
                  f"{d['naive_over_uao_both_default_threads']:.2f}x with uao on {default_threads} threads too)")
            if "sequence_live_ms" in d:
                print(f"          {clock} live uao-sequence (sliding window of {live_options.window}, one person-frame): "
                      f"{d['sequence_live_ms']:.2f} ms, adds {d['sequence_live_added_ms']:.2f} ms to the lifter")
            if "uao_sequence_ms" in d:
                print(f"          {clock} offline uao-sequence (a 64-frame track): {d['uao_sequence_ms']:.2f} ms/frame")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
