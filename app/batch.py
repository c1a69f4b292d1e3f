"""Many videos on Ray, each exported exactly as `run_demo.py --export` would:

    python -m app.batch INPUTS... --out DIR [--workers N] [--address ADDR] [--config FILE] [app options]

INPUTS are video files, folders (searched recursively by video extension) or glob
patterns. Every video is one task for a pool of Ray actors (app.batch_worker): each
loads the lifter and the detector once and exports video after video into
DIR/<video stem>/ (poses.jsonl, meta.json, poses.npz, poses.csv, skeleton_<track>.bvh,
summary.json, overlay.mp4 with --render-video). A local Ray instance is started unless
--address names a running cluster (Ray's address syntax: auto, HOST:6379, ray://HOST:10001).

Resuming: a video whose export is complete (app.videos.finished_summary) is skipped; an
incomplete one (killed mid-way, failed, nobody found) is redone from its first frame, so
its result does not depend on where the earlier run stopped. A failing video is recorded
and the others go on. DIR/batch_summary.json tells what happened; the exit code is 0 when
every video is exported, 1 when any failed, 2 for bad options.
"""
import argparse
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

from tqdm import tqdm

from .batch_worker import VideoWorker, video_args
from .cli import build_parser, check_args, option_defaults, parse_with_config, weights_path
from .exports import prepare_export_dir
from .videos import JSONL, export_names, find_videos, finished_summary, frame_count, lines_written

REPO = Path(__file__).resolve().parents[1]
SUMMARY = "batch_summary.json"
POLL_S = 0.5  # progress bar refresh while videos run
# what a cluster's workers need of this checkout (the code and the shipped weights)
SHIPPED_EXCLUDES = [".git", ".venv", "out", ".cache", "tests", "docs", "benchmarks/results", "**/__pycache__"]
# options app.batch sets per video, or that only make sense for one live video
PER_VIDEO = ("source", "export", "viewer", "mode", "progress")
SINGLE_VIDEO = ("stream", "stream_track")


def batch_parser():
    ap = build_parser()
    ap.prog = "python -m app.batch"
    ap.description = __doc__.split("\n\n")[0]
    ap.epilog = ("Every run_demo.py option applies to every video; --source, --export, --viewer and --mode "
                 "are set by the batch, --stream is for one live video.")
    ap.allow_abbrev = False
    for action in ap._actions:  # set per video, or for one live video only: not batch options
        if action.dest in PER_VIDEO[:-1] + SINGLE_VIDEO:
            action.help = argparse.SUPPRESS
    b = ap.add_argument_group("batch")
    b.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, folders or glob patterns")
    b.add_argument("--out", required=True, metavar="DIR", help="one export folder per video goes here, "
                                                                "with batch_summary.json")
    b.add_argument("--workers", type=int, metavar="N",
                   help="Ray actors, each loading the models once (default: the CPUs Ray has / "
                        "--threads-per-worker)")
    b.add_argument("--address", metavar="ADDR", help="an existing Ray cluster (auto, HOST:6379, "
                                                     "ray://HOST:10001); default: a local instance")
    b.add_argument("--threads-per-worker", type=int, default=1, metavar="N",
                   help="CPU threads (and Ray CPUs) per worker: torch, BLAS and OpenCV are held to it "
                        "(default: %(default)s)")
    b.add_argument("--force", action="store_true", help="redo complete exports too")
    return ap


def parse_batch_args(argv):
    """argv -> (batch namespace, {dest: value} of the run_demo.py options for every video)."""
    given = {token.split("=")[0] for token in argv}
    for flag in ("--source", "--export"):
        if flag in given:
            raise ValueError(f"{flag}: the batch sets it per video; give the videos as INPUTS and --out DIR")
    args = parse_with_config(batch_parser(), argv)
    for dest in SINGLE_VIDEO:
        if getattr(args, dest) is not None:
            raise ValueError(f"--{dest.replace('_', '-')}: streaming is for one video (run_demo.py), not a batch")
    if args.workers is not None and args.workers < 1 or args.threads_per_worker < 1:
        raise ValueError("--workers and --threads-per-worker must be at least 1")
    app_options = {dest: getattr(args, dest) for dest in option_defaults() if dest not in PER_VIDEO}
    check_args(video_args(app_options, "video", args.out))  # same checks as run_demo.py
    weights_path(app_options["weights"])  # a missing lifter fails here, not in every worker
    return args, app_options


def check_reachable(address):
    """A quick TCP connect to HOST:PORT (or ray://HOST:PORT), so a wrong address fails in
    seconds; Ray itself retries for minutes. 'auto' is left to Ray."""
    if address == "auto":
        return
    host, _, port = address.split("://")[-1].rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
    except (OSError, ValueError) as e:
        raise ValueError(f"ray cluster {address}: cannot connect ({e})") from None


def start_ray(address, cpus):
    """Start (or join, with address) Ray quietly -> (started by us, one line saying where logs are)."""
    import ray
    if address:
        check_reachable(address)
    if ray.is_initialized():
        return False, "ray: using the running instance"
    quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        if address:
            # cluster nodes get this checkout's code and weights; inputs and DIR must be
            # paths every node sees (a shared filesystem)
            context = ray.init(address=address, **quiet,
                               runtime_env={"working_dir": str(REPO), "excludes": SHIPPED_EXCLUDES})
        else:
            # Ray's memory monitor weighs the whole machine: another program's memory would
            # get our workers killed mid-video. The system's own OOM killer still guards it.
            os.environ.setdefault("RAY_memory_monitor_refresh_ms", "0")
            # "local": always a new instance, never one that `ray start` left running here
            context = ray.init(address="local", num_cpus=cpus, **quiet)
    except Exception as e:  # Ray raises ConnectionError, RuntimeError, its own errors...
        target = f"ray cluster {address}: cannot connect" if address else "ray: cannot start a local instance"
        hint = " (a cluster with token authentication also needs RAY_AUTH_MODE=token here)" \
            if "auth" in str(e).lower() else ""
        raise ValueError(f"{target}: {worker_error(e)}{hint}") from None
    session = context.address_info.get("session_dir")
    where = f"cluster {address}" if address else "local instance"
    return True, f"ray: {where}; worker logs in {session}/logs" if session else f"ray: {where}"


def worker_error(error):
    """The first line that says something of a Ray error (its cause, when it has one)."""
    cause = getattr(error, "cause", None)
    text = str(cause if isinstance(cause, Exception) else error)
    return next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)


def worker_cores(workers, threads):
    """Per worker, the CPU ids a local instance pins it to: its own `threads` cores while
    there are enough, round robin beyond. None (no pinning) where Linux affinity is missing."""
    if not hasattr(os, "sched_getaffinity"):
        return [None] * workers
    cpus = sorted(os.sched_getaffinity(0))
    return [{cpus[(k * threads + i) % len(cpus)] for i in range(threads)} for k in range(workers)]


def process(jobs, app_options, workers, threads, progress, pin=True):
    """Run jobs [(name, video, export_dir)] on `workers` actors -> ({name: result},
    seconds to start the actors (models loaded), seconds processing the videos).
    pin: give each worker cores of its own (a local instance)."""
    import ray
    from ray.exceptions import RayError

    remote_worker = ray.remote(VideoWorker)
    t0 = time.monotonic()
    count = min(workers, len(jobs))
    cores = worker_cores(count, threads) if pin else [None] * count
    actors = [remote_worker.options(num_cpus=threads, max_restarts=1).remote(app_options, threads, cores[k])
              for k in range(count)]
    try:
        ray.get([a.ready.remote() for a in actors])
    except RayError as e:
        for a in actors:
            ray.kill(a)
        raise ValueError(f"batch workers could not start: {worker_error(e)}") from None
    t_ready = time.monotonic()
    totals = {name: frame_count(video, app_options["max_frames"]) for name, video, _ in jobs}
    bar = tqdm(total=sum(totals.values()), unit="frame", desc="videos", disable=not progress, dynamic_ncols=True)
    results, running, todo, idle = {}, {}, list(jobs), list(actors)
    try:
        while todo or running:
            while idle and todo:
                name, video, out = todo.pop(0)
                actor = idle.pop()
                running[actor.process.remote(str(video), str(out))] = (actor, name, out)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
            for ref in ready:
                actor, name, _ = running.pop(ref)
                try:
                    results[name] = ray.get(ref)
                except RayError as e:  # the actor process died (Ray restarts it once)
                    results[name] = {"status": "failed", "frames": 0, "frames_with_people": 0, "seconds": 0.0,
                                     "cpu_s": 0.0, "error": f"worker died: {worker_error(e)}"}
                idle.append(actor)
            finished = sum(r["frames"] for r in results.values())
            bar.total = max(bar.total, finished + sum(totals[n] for n, _, _ in todo)
                            + sum(totals[n] for _, n, _ in running.values()))
            bar.n = finished + sum(min(lines_written(out), totals[n]) for _, n, out in running.values())
            failed = sum(r["status"] == "failed" for r in results.values())
            bar.set_postfix_str(f"{len(results)}/{len(jobs)} videos" + (f", {failed} failed" if failed else ""),
                                refresh=False)
            bar.refresh()
    finally:
        bar.close()
        for a in actors:
            ray.kill(a)
    return results, t_ready - t0, time.monotonic() - t_ready


def run_batch(videos, out_dir, app_options, workers=None, address=None, threads=1, force=False, progress=True):
    """Export every video into out_dir/<name>/; writes and returns the batch summary."""
    import ray
    out = prepare_export_dir(out_dir)
    names = export_names(videos)
    entries, jobs = {}, []
    for video in videos:
        name, folder = names[video], out / names[video]
        done = None if force else finished_summary(folder, app_options["render_video"])
        if done is not None:
            entries[name] = {"source": str(video), "status": "skipped", "frames": done["frames"],
                             "frames_with_people": done["frames_with_people"], "seconds": 0.0, "cpu_s": 0.0,
                             "error": None}
        else:
            (folder / JSONL).unlink(missing_ok=True)  # redone from the start; the bar counts its lines
            jobs.append((name, video, folder))
    started, t0 = False, time.monotonic()
    results, ray_s, actors_s, processing_s = {}, 0.0, 0.0, 0.0
    try:
        if jobs:
            started, where = start_ray(address, workers * threads if workers else os.cpu_count())
            print(where, file=sys.stderr, flush=True)
            ray_s = time.monotonic() - t0
            cpus = int(ray.cluster_resources().get("CPU", 1))
            workers = workers or max(1, cpus // threads)
            # a cluster's nodes have cores of their own: pin only on this machine
            results, actors_s, processing_s = process(jobs, app_options, workers, threads, progress,
                                                      pin=address is None)
    finally:
        if started:
            ray.shutdown()
    wall_s = time.monotonic() - t0
    for name, video, _ in jobs:
        entries[name] = {"source": str(video), **results.get(name, {"status": "failed", "error": "not run"})}
    processed = [entries[name] for name, _, _ in jobs]
    frames = sum(e.get("frames", 0) for e in processed)
    summary = {
        "engine": "ray", "ray_version": ray.__version__, "address": address or "local",
        "workers": min(workers or 0, len(jobs)) if jobs else 0, "threads_per_worker": threads,
        "out": str(out), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "videos": dict(sorted(entries.items())),
        "totals": {"videos": len(entries),
                   **{s: sum(e["status"] == s for e in entries.values()) for s in ("done", "skipped", "failed")},
                   "frames": frames, "frames_with_people": sum(e.get("frames_with_people", 0) for e in processed),
                   "seconds": round(sum(e.get("seconds", 0.0) for e in processed), 3),
                   "cpu_s": round(sum(e.get("cpu_s", 0.0) for e in processed), 3)},
        # fixed costs: Ray's start (or connection), then the actors loading their models
        "startup_s": {"ray": round(ray_s, 3), "workers": round(actors_s, 3)},
        "processing_s": round(processing_s, 3), "wall_s": round(wall_s, 3),
        # over the processed videos, from the first task to the last result: start-up excluded
        "fps": round(frames / processing_s, 2) if frames and processing_s > 0 else 0.0,
    }
    (out / SUMMARY).write_text(json.dumps(summary, indent=1))
    return summary


def main(argv=None):
    # FFmpeg's own complaints about a damaged file (counting its frames here) would
    # clutter the bar; the file's failure is recorded in the summary instead
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        args, app_options = parse_batch_args(sys.argv[1:] if argv is None else argv)
        videos = find_videos(args.inputs)
        summary = run_batch(videos, args.out, app_options, args.workers, args.address,
                            args.threads_per_worker, args.force, args.progress)
    except ValueError as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # workers are gone with Ray; finished exports stay complete
        print("interrupted: run the same command again to export what is left", file=sys.stderr)
        return 130
    t = summary["totals"]
    print(f"{t['videos']} videos: {t['done']} exported, {t['skipped']} already complete, {t['failed']} failed; "
          f"{t['frames']} frames at {summary['fps']:.1f} fps; summary in {Path(args.out) / SUMMARY}")
    for name, e in summary["videos"].items():
        if e["status"] == "failed":
            print(f"failed: {name}: {e['error']}", file=sys.stderr)
    return 1 if t["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
