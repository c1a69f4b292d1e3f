"""Throughput of `python -m app.batch` with 1 and 2 Ray workers on clips cut from the demo clip.

    python benchmarks/batch_throughput.py [--clips 4] [--frames 30] [--repeats 2] [--json OUT]

Cuts --clips clips of --frames frames (stretches where someone is in view) from
../shared/media/sports2d_demo.mp4 into a temporary folder, starts one local Ray instance
(2 CPUs, timed: Ray's fixed start-up cost), then runs the batch (app.batch.run_batch, the
code behind the command line, default app options) with 1 worker and with 2 workers,
--repeats times each into fresh output folders. Per run: the workers' start-up (actors
loading detector and lifter, excluded from throughput), processing seconds, videos and
frames per second, and the cores the workers actually got (their CPU seconds over the
processing seconds). The scaling ratio is best 2-worker fps over best 1-worker fps (target
>= 1.6 on a 2-core machine). The machine's load average is printed too: other programs
on the same cores lower both figures.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from lifter.config import shared_dir  # noqa: E402
CLIP = shared_dir() / "media" / "sports2d_demo.mp4"
FIRST_FRAME = 100  # MediaPipe finds the runner from a cold start from here on


def cut_clips(folder, count, frames):
    cap = cv2.VideoCapture(str(CLIP))
    images = [cap.read()[1] for _ in range(230)]
    cap.release()
    span = (len(images) - FIRST_FRAME - frames) // max(count - 1, 1)
    paths = []
    for k in range(count):
        start = FIRST_FRAME + k * span
        path = Path(folder) / f"clip{k}_{start}.mp4"
        w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, images[0].shape[1::-1])
        for image in images[start:start + frames]:
            w.write(image)
        w.release()
        paths.append(path)
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--frames", type=int, default=30, help="frames per clip")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", metavar="OUT", help="write the figures here")
    args = ap.parse_args(argv)
    import ray

    from app import batch
    with tempfile.TemporaryDirectory() as tmp:
        videos = cut_clips(tmp, args.clips, args.frames)
        _, app_options = batch.parse_batch_args([tmp, "--out", tmp])
        load_before = os.getloadavg()
        t0 = time.monotonic()
        batch.start_ray(None, 2)
        ray_start_s = time.monotonic() - t0
        runs = []
        try:
            for repeat in range(args.repeats):
                for workers in (1, 2):
                    s = batch.run_batch(videos, Path(tmp) / f"out_{workers}_{repeat}", app_options,
                                        workers=workers, progress=False)
                    t = s["totals"]
                    assert t["done"] == len(videos), s["videos"]
                    runs.append({"workers": workers, "workers_start_s": s["startup_s"]["workers"],
                                 "processing_s": s["processing_s"], "frames": t["frames"],
                                 "videos_per_s": round(len(videos) / s["processing_s"], 3), "fps": s["fps"],
                                 # CPU the workers got: below `workers`, other programs held the cores
                                 "cores_used": round(t["cpu_s"] / s["processing_s"], 2),
                                 "cpu_ms_per_frame": round(t["cpu_s"] / t["frames"] * 1e3, 1)})
                    print(f"{workers} worker(s): {t['frames']} frames in {s['processing_s']:.1f} s = "
                          f"{s['fps']:.2f} fps, {runs[-1]['videos_per_s']:.2f} videos/s, "
                          f"{runs[-1]['cores_used']:.2f} cores used, {runs[-1]['cpu_ms_per_frame']:.0f} ms CPU "
                          f"per frame (workers start-up {s['startup_s']['workers']:.1f} s)", flush=True)
        finally:
            ray.shutdown()
    best = {w: max(r["fps"] for r in runs if r["workers"] == w) for w in (1, 2)}
    result = {
        "clips": args.clips, "frames_per_clip": args.frames, "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before], "load_average_after":
            [round(x, 2) for x in os.getloadavg()],
        "ray_start_s": round(ray_start_s, 2), "runs": runs,
        "best_fps": best, "scaling_2_over_1": round(best[2] / best[1], 3), "target": 1.6,
    }
    print(f"Ray start-up {ray_start_s:.1f} s; best fps 1 worker {best[1]:.2f}, 2 workers {best[2]:.2f}; "
          f"scaling {result['scaling_2_over_1']:.2f}x (target 1.6x); load average before "
          f"{load_before[0]:.1f}, after {result['load_average_after'][0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
