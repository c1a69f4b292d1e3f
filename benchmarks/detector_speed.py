"""Milliseconds per frame of each 2D detector on the real clip, at 640x360 and at full
resolution (1768x994). Frames are decoded beforehand, so only detection is timed.

mediapipe: BlazePose, tracking mode (as in the app on video): full, plus lite and heavy
  when their model files are installed.
mmpose: HRNet-w32 256x192, flip test off, one whole-frame box per frame (the pose model
  alone; the box source adds BlazePose's time when it is used). Without --mmpose-checkpoint
  it runs random weights: the cost of the network does not depend on its weights.

  .venv/bin/python benchmarks/detector_speed.py [--frames 40] [--threads 1] [--json out.json]
"""
import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from detectors import make_detector  # noqa: E402
from detectors.blazepose import VARIANTS, model_file  # noqa: E402
from lifter.config import parse_args, shared_dir  # noqa: E402

CLIP = shared_dir() / "media" / "sports2d_demo.mp4"
WARMUP = 3


def read_frames(path, count, size=None):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame if size is None else cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    cap.release()
    if not frames:
        raise SystemExit(f"{path}: no frames could be read")
    return frames


def time_detector(det, frames, label):
    times_ms, found = [], 0
    for i, frame in enumerate(tqdm(frames, desc=label, leave=False)):
        t0 = time.perf_counter()
        people = det(frame)
        if i >= WARMUP:
            times_ms.append((time.perf_counter() - t0) * 1e3)
            found += bool(people)
    t = np.array(times_ms)
    return {"mean_ms": float(t.mean()), "median_ms": float(np.median(t)),
            "p90_ms": float(np.percentile(t, 90)), "frames": len(t),
            "found_fraction": found / len(t)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="YAML file with any of these options (command line wins)")
    ap.add_argument("--frames", type=int, default=40, help="frames per run (first 3 are warm-up)")
    ap.add_argument("--backends", default="mediapipe,mmpose")
    ap.add_argument("--mmpose-checkpoint", default="none", help="HRNet-w32 checkpoint (default: random)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads for mmpose, as the app's --torch-threads (default: 1)")
    ap.add_argument("--json", help="also write the figures to this file")
    args, _ = parse_args(ap, sys.argv[1:])
    if args.frames <= WARMUP:
        raise SystemExit(f"--frames {args.frames}: need more than {WARMUP} (warm-up)")
    if args.threads < 1:
        raise SystemExit(f"--threads {args.threads}: need at least 1")
    # On a busy machine more threads than free cores is far slower, not faster: torch's
    # thread pool waits on its slowest thread (measured here: 170 ms with 1, 12 s with 2).
    torch.set_num_threads(args.threads)

    sizes = {"640x360": (640, 360), "full": None}
    runs = {}  # label -> (backend, options)
    for backend in args.backends.split(","):
        if backend == "mediapipe":  # every BlazePose variant whose model file is installed
            for variant in VARIANTS:
                if model_file(variant).is_file():
                    runs[f"mediapipe-{variant}"] = ("mediapipe", {"config": variant})
        elif backend == "mmpose":
            runs["mmpose-hrnet-w32"] = ("mmpose", {
                "checkpoint": args.mmpose_checkpoint, "static_image": True, "boxes": "frame",
                "min_person_score": 0.0})
        else:
            raise SystemExit(f"--backends {backend}: unknown, choose from mediapipe, mmpose")
    results = {}
    for size_name, size in sizes.items():
        frames = read_frames(CLIP, args.frames, size)
        h, w = frames[0].shape[:2]
        for label, (backend, options) in runs.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the random-weights warning, known here
                det = make_detector(backend, **options)
            r = time_detector(det, frames, f"{label} {w}x{h}")
            det.close()
            r.update(backend=backend, version=det.version, resolution=f"{w}x{h}")
            results[f"{label}@{size_name}"] = r
            print(f"{label:16s} {w:4d}x{h:<4d} {r['mean_ms']:8.1f} ms/frame mean  "
                  f"{r['median_ms']:8.1f} median  {r['p90_ms']:8.1f} p90  "
                  f"person found in {r['found_fraction']:.0%} of {r['frames']} frames", flush=True)
    # Other work on the machine inflates the figures: keep the load with them.
    load = os.getloadavg()
    print(f"load average (1, 5, 15 min) at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
          f"on {os.cpu_count()} CPUs; torch threads {args.threads}")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": results, "load_average": load,
                                               "cpus": os.cpu_count(),
                                               "torch_threads": args.threads}, indent=2))


if __name__ == "__main__":
    main()
