"""Lifter forward latency (batch 1) and throughput (batch 256) on this machine, inference mode.

    python benchmarks/lifter_speed.py [--weights weights/gumlp_cmu.pt] [--threads N] [--json OUT]
    python benchmarks/lifter_speed.py --width 512 --blocks 3    # an untrained size, for comparison
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lifter import config  # noqa: E402
from lifter.model import GUMLP, load_lifter  # noqa: E402


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", help="YAML file with any of these options (command line wins)")
    ap.add_argument("--weights", default=config.DEFAULT_WEIGHTS)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--width", type=int, help="time a randomly initialised GUMLP of this width instead")
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--json")
    a, _ = config.parse_args(ap, sys.argv[1:])
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.width:
        model = GUMLP(width=a.width, blocks=a.blocks).to(a.device).eval()
    else:
        model = load_lifter(str(config.weights_path(a.weights)), a.device)
    params = sum(p.numel() for p in model.parameters())
    res = {"config": model.config, "parameters": params, "threads": torch.get_num_threads(), "device": a.device}
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)
    with torch.inference_mode():
        for batch, repeats in ((1, 300), (256, 30)):
            x = torch.randn(batch, 17, 2, device=a.device)
            for _ in range(20):
                model(x)

            def run():
                model(x)
                sync()
            s = timed(run, repeats)
            res[f"batch_{batch}"] = {"ms": s * 1000, "frames_per_s": batch / s}
    print(f"GUMLP {model.config['width']}x{model.config['blocks']} ({params / 1e6:.2f} M parameters), "
          f"{res['threads']} threads, {a.device}")
    print(f"batch 1:   {res['batch_1']['ms']:.2f} ms per forward (median of 300)")
    print(f"batch 256: {res['batch_256']['ms']:.1f} ms per forward, {res['batch_256']['frames_per_s']:.0f} frames/s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    try:
        main()
    except ValueError as e:  # bad options or weights: one line
        sys.exit(f"error: {e}")
