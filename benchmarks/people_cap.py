"""What the person cap (--max-people) costs and finds, on the real clip at 640 px wide.

    .venv/bin/python benchmarks/people_cap.py [--caps 1,2,3,4] [--json OUT]

For each cap: the multi-person BlazePose detector (MediaPipe Tasks, VIDEO mode) then
app.tracker, as the app runs them. Prints detector ms per frame (median and mean), the
people per frame before and after tracking, frames with two or more tracked people and
the share of all tracked person-frames held by the two longest tracks (the clip has two
people: the man on the box and the woman walking in). A last row runs MediaPipe's legacy
single-person `solutions.pose` API (the path this detector replaced) on the same frames,
for its speed and the frames where it finds someone.
"""
import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from lifter.config import shared_dir  # noqa: E402
from app.frame import PersonPose  # noqa: E402
from app.tracker import Tracker  # noqa: E402
from detectors import make_detector  # noqa: E402

CLIP = shared_dir() / "media" / "sports2d_demo.mp4"
WIDTH = 640
FPS = 30.0


def read_frames():
    cap = cv2.VideoCapture(str(CLIP))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(img, (WIDTH, round(img.shape[0] * WIDTH / img.shape[1])),
                                 interpolation=cv2.INTER_AREA))
    cap.release()
    return frames


def run_cap(frames, cap):
    det, tracker = make_detector("mediapipe", max_people=cap), Tracker()
    ms, raw, shown, counts = [], [], [], Counter()
    for i, img in enumerate(tqdm(frames, desc=f"max {cap}", leave=False)):
        t0 = time.perf_counter()
        people = det(img)
        ms.append((time.perf_counter() - t0) * 1e3)
        out = tracker.update([PersonPose(p.keypoints_px, p.scores, p.bbox_xyxy) for p in people], i / FPS)
        raw.append(len(people))
        shown.append(len(out))
        counts.update(p.track_id for p in out)
    det.close()
    top2 = sum(c for _, c in counts.most_common(2))
    return {"median_ms": round(float(np.median(ms)), 1), "mean_ms": round(float(np.mean(ms)), 1),
            "detected_per_frame": round(float(np.mean(raw)), 3),
            "tracked_per_frame": round(float(np.mean(shown)), 3),
            "frames_with_two_or_more": int(sum(n >= 2 for n in shown)),
            "tracks": len(counts), "top2_share": round(top2 / max(sum(counts.values()), 1), 3)}


def run_legacy(frames):
    import mediapipe as mp
    pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1)
    ms, found = [], 0
    for img in tqdm(frames, desc="legacy", leave=False):
        t0 = time.perf_counter()
        result = pose.process(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        ms.append((time.perf_counter() - t0) * 1e3)
        found += result.pose_landmarks is not None
    pose.close()
    return {"median_ms": round(float(np.median(ms)), 1), "mean_ms": round(float(np.mean(ms)), 1),
            "frames_with_a_person": found}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--caps", default="1,2,3,4", help="comma-separated person caps")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    args = ap.parse_args()
    os.environ.setdefault("GLOG_minloglevel", "2")
    frames = read_frames()
    results = {}
    print(f"{len(frames)} frames at {WIDTH} px wide")
    print("cap  median ms  mean ms  detected/frame  tracked/frame  frames>=2  tracks  top-2 share")
    for cap in (int(c) for c in args.caps.split(",")):
        r = results[f"max_people_{cap}"] = run_cap(frames, cap)
        print(f"{cap:3d}  {r['median_ms']:9.1f}  {r['mean_ms']:7.1f}  {r['detected_per_frame']:14.3f}  "
              f"{r['tracked_per_frame']:13.3f}  {r['frames_with_two_or_more']:9d}  {r['tracks']:6d}  "
              f"{r['top2_share']:11.3f}", flush=True)
    r = results["legacy_single_person"] = run_legacy(frames)
    print(f"legacy solutions.pose (one person): median {r['median_ms']} ms, mean {r['mean_ms']} ms, "
          f"someone found in {r['frames_with_a_person']} frames")
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (other work inflates the ms)")
    results["load_avg_1min"] = round(load, 2)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
