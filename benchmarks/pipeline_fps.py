"""End-to-end speed of the demo pipeline, offline, on the real clip scaled to 640 px wide.

    python benchmarks/pipeline_fps.py [--frames 230] [--refine uao-feature] [--max-people N] [--json OUT]

Runs exactly what `run_demo.py --viewer none --export DIR` runs (decode -> multi-person
MediaPipe -> tracker -> GUMLP + refinement of everyone in one batch -> exports), with the
app's default person cap unless --max-people is given, and prints end-to-end fps, the
people per frame (mean over frames, tracked people as exported), per-stage ms and the share of
frame time (1 / fps) spent lifting + refining. Stages run concurrently on their own
threads, so each is reported in wall time (which includes waiting for a core while the
others run) and in the CPU time of its thread (what it costs the machine);
"lift_refine_share" uses CPU time, "lift_refine_share_wall" wall time. The clip is first re-encoded once at 640 px wide
(.cache/bench/), so decoding is measured at that size too. Without the shipped weights
an untrained lifter of the same architecture is timed (speed does not depend on the
weight values); the JSON says which.
"""
import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detectors.blazepose import DEFAULT_MAX_PEOPLE  # noqa: E402
from lifter import config  # noqa: E402

CLIP = config.shared_dir() / "media" / "sports2d_demo.mp4"
WIDTH = 640


def clip_at_width(width):
    """The clip re-encoded at `width` px (cached); returns its path."""
    out = REPO / ".cache" / "bench" / f"sports2d_demo_{width}.mp4"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(CLIP))
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer = None
    tmp = out.with_suffix(".part.mp4")
    while True:
        ok, img = cap.read()
        if not ok:
            break
        img = cv2.resize(img, (width, round(img.shape[0] * width / img.shape[1]) // 2 * 2),
                         interpolation=cv2.INTER_AREA)
        if writer is None:
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (img.shape[1], img.shape[0]))
        writer.write(img)
    writer.release()
    cap.release()
    tmp.rename(out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=230, help="frames to process (the clip has 230)")
    ap.add_argument("--refine", default="uao-feature", choices=("none", "uao", "uao-feature"))
    ap.add_argument("--iters", type=int, default=4)
    ap.add_argument("--solver", default="auto", choices=("auto", "adam", "gn"))
    ap.add_argument("--weights", default=config.DEFAULT_WEIGHTS)
    ap.add_argument("--max-people", type=int, default=DEFAULT_MAX_PEOPLE,
                    help="the detector's person cap (default: the app's, %(default)s)")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    args = ap.parse_args()

    from app.cli import parse_args, run
    from app.exports import read_jsonl
    from lifter.model import GUMLP, save_lifter

    with tempfile.TemporaryDirectory() as tmp:
        weights = REPO / args.weights
        trained = weights.exists()
        if not trained:
            weights = Path(tmp) / "untrained.pt"
            save_lifter(GUMLP(), weights)
        demo = parse_args(["--source", str(clip_at_width(WIDTH)), "--viewer", "none", "--export",
                           str(Path(tmp) / "export"), "--max-frames", str(args.frames), "--refine", args.refine,
                           "--iters", str(args.iters), "--refine-solver", args.solver, "--weights", str(weights),
                           "--max-people", str(args.max_people)])
        summary = run(demo)
        people = [len(f["people"]) for f in read_jsonl(Path(tmp) / "export" / "poses.jsonl")]

    result = {
        "fps": summary["fps"],
        "stage_ms": summary["stage_ms"],
        "stage_cpu_ms": summary["stage_cpu_ms"],
        "lift_refine_share": summary["lift_refine_share"],
        "lift_refine_share_wall": summary["lift_refine_share_wall"],
        "frames": summary["frames"],
        "people_per_frame": round(sum(people) / max(len(people), 1), 3),
        "frames_with_two_or_more": sum(n >= 2 for n in people),
        "max_people": args.max_people,
        "frame_ms": round(1e3 / summary["fps"], 2) if summary["fps"] else None,
        "width_px": WIDTH, "detector": "mediapipe", "refine": args.refine, "iters": args.iters, "solver": args.solver,
        "weights": "shipped" if trained else "untrained, same architecture",
        # other work on the machine skews every figure: record how busy it was
        "load_avg_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
    }
    print(f"end to end: {result['fps']:.1f} fps ({result['frame_ms']} ms/frame) over {result['frames']} frames, "
          f"{WIDTH} px wide, mediapipe (max {args.max_people} people) + {args.refine} x{args.iters}")
    print(f"people per frame: {result['people_per_frame']:.3f} (frames with two or more: "
          f"{result['frames_with_two_or_more']})")
    # MediaPipe and FFmpeg work on threads of their own, so the detect / decode threads' CPU
    # understates those stages; torch runs the lifter inside the lift thread (1 thread).
    print("  stage    wall ms   CPU ms (the stage's own thread)")
    for stage, ms in result["stage_ms"].items():
        print(f"  {stage:7s} {ms:7.2f}  {result['stage_cpu_ms'][stage]:7.2f}")
    print(f"lifting + refinement: {100 * result['lift_refine_share']:.1f} % of frame time in CPU time, "
          f"{100 * result['lift_refine_share_wall']:.1f} % in wall time (which includes waiting for a core "
          f"while detection runs) (load average {result['load_avg_1min']} on {result['cpus']} CPUs)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
