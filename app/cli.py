"""Command line of the demo (run_demo.py): options, config files, building the stages.

Every option can also be set in a YAML config (--config FILE, keys = option names, dashes
or underscores). Precedence (lifter/config.py): built-in default < config file < command
line. configs/demo.yaml lists them all with their defaults.
"""
import argparse
import hashlib
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

from detectors.blazepose import DEFAULT_MAX_PEOPLE
from lifter import config
from lifter.camera import DEFAULT_HFOV_DEG, intrinsics_from_fov, load_calibration
from lifter.config import DEFAULT_WEIGHTS, weights_path
from lifter.refine.options import MODES
from lifter.skeleton import JOINTS, PARENTS

from .signals import StopOnSignal


def build_parser():
    ap = argparse.ArgumentParser(
        prog="run_demo.py",
        description="Real-time monocular 3D human pose: 2D keypoints -> GUMLP lifter with per-joint "
                    "uncertainty -> UAO refinement -> Open3D viewer, OpenCV overlay, exports.",
        epilog="Keys: q or Esc in a window quits; Ctrl-C / SIGTERM stop cleanly (exports are finalised). "
               "An interrupted export is finished with `python -m app.finalise DIR`.")
    a = ap.add_argument
    a("--config", metavar="FILE", help="YAML file with any of these options (see configs/demo.yaml)")
    a("--source", help="camera index (0), video file, image file or folder, stream URL (rtsp://, http://) "
                       "or FIFO")
    a("--mode", choices=("auto", "live", "offline"), default="auto",
      help="live: drop stale frames to bound latency; offline: every frame in order. "
           "auto: live for cameras, URLs and FIFOs; a camera is always live (default: %(default)s)")
    a("--detector", choices=("mediapipe", "mmpose"), default="mediapipe",
      help="2D keypoint detector (default: %(default)s, embedded and offline)")
    a("--det-config", help="mediapipe: lite|full|heavy (default full); mmpose: model config path or name")
    a("--det-checkpoint", help="mmpose checkpoint file or URL (required for mmpose; 'none' = random "
                               "weights, for testing only)")
    a("--det-width", type=int, default=640, metavar="PX",
      help="detect on a copy resized to this width, 0 = full size; keypoints stay in original "
           "pixels (default: %(default)s)")
    a("--max-people", type=int, default=DEFAULT_MAX_PEOPLE, metavar="N",
      help="people followed per frame (tracked, lifted and shown, each with a track id); every "
           "one more the detector may look for costs ~10 ms per frame (default: %(default)s)")
    a("--weights", default=DEFAULT_WEIGHTS, metavar="PATH",
      help="lifter checkpoint (default: %(default)s, relative to the repository)")
    a("--refine", choices=MODES, default="uao-feature",
      help="test-time refinement: none, uao (refines the normalised 2D input), uao-feature (the "
           "feature latent, per frame), uao-sequence (each track over its last 8 frames, shared "
           "bone lengths and temporal smoothness; its live preset) (default: %(default)s)")
    a("--iters", type=int, default=4, help="refinement iterations per frame; uao-sequence runs its live "
                                          "preset's one warm-started step (default: %(default)s)")
    a("--refine-solver", choices=("auto", "adam", "gn"), default="auto",
      help="refinement optimiser: adam, gn (Gauss-Newton, uao-feature only), or auto = the measured "
           "best per latent: gn for uao-feature, adam for uao (default: %(default)s)")
    a("--refine-max-ms", type=float, default=0.0, metavar="MS",
      help="stop refining after this long per frame, 0 = no limit (default: %(default)s)")
    a("--score-threshold", type=float, default=0.3,
      help="2D joints scored below this do not pull the refinement (default: %(default)s)")
    a("--smooth", choices=("off", "causal", "offline"), default=None,
      help="per-track temporal filter of the 3D output, with each joint's sigma as its noise and the "
           "track's bone lengths held: causal (no look-ahead, for live), offline (held back "
           "30 frames for look-ahead), off (each frame on its own) (default: causal for live "
           "sources, offline for files)")
    a("--calib", metavar="FILE", help="OpenCV calibration (YAML/XML/JSON with camera_matrix, "
                                      "distortion_coefficients); overrides --fov-deg")
    a("--fov-deg", type=float, default=DEFAULT_HFOV_DEG,
      help="horizontal field of view assumed without --calib (default: %(default)s, a typical webcam)")
    a("--viewer", choices=("open3d", "opencv", "none"), default="open3d",
      help="open3d: 3D window + overlay window; opencv: one window, overlay and 3D side by side; "
           "none: headless. Without a display the app runs headless (default: %(default)s)")
    a("--export", metavar="DIR", help="write poses.jsonl, meta.json, poses.npz, poses.csv, skeleton_<track>.bvh, "
                                      "summary.json (and overlay.mp4) here")
    a("--bvh-lengths", choices=("median", "per-frame"), default="median",
      help="skeleton_<track>.bvh bone lengths: median (standard rotation-only BVH, bones at their median "
           "length) or per-frame (position channels on every joint, reproduces the 3D joints "
           "exactly) (default: %(default)s)")
    a("--render-video", action="store_true", default=False,
      help="write DIR/overlay.mp4: overlay and 3D view side by side (needs --export)")
    a("--render-height", type=int, default=480, metavar="PX",
      help="height of the rendered video / windows (default: %(default)s)")
    a("--max-frames", type=int, metavar="N", help="stop after N frames")
    a("--stream", metavar="URL", help="send each frame's skeleton live to an animation tool: "
                                      "vmc://HOST:PORT (VMC protocol over UDP: VSeeFace, Warudo, VNyan, "
                                      "Blender/Unity VMC add-ons; usual port 39539), or ws://HOST:PORT "
                                      "(each frame's poses.jsonl record to WebSocket clients, for web viewers)")
    a("--stream-track", type=int, metavar="ID", help="stream this track id (default: the largest person)")
    a("--device", choices=("cpu", "cuda"), default="cpu", help="lifter device (default: %(default)s)")
    a("--torch-threads", type=int, default=1, metavar="N",
      help="torch CPU threads; the lifter is tiny, extra threads only compete with the detector "
           "(default: %(default)s)")
    a("--no-progress", dest="progress", action="store_false", default=True, help="hide the progress bar")
    return ap


def option_defaults():
    """{option name: default} of every option but --config (what configs/demo.yaml lists)."""
    return {dest: a.default for dest, a in config.option_actions(build_parser()).items()}


def parse_with_config(ap, argv):
    """Parse argv with ap (build_parser() or an extension of it, as in app.batch), the
    values of a --config file serving as defaults (lifter.config)."""
    args, _ = config.parse_args(ap, argv)
    return args


def parse_args(argv):
    args = parse_with_config(build_parser(), argv)
    check_args(args)
    return args


def check_args(args):
    """One-line ValueError for option values that cannot work together."""
    if args.source is None:
        raise ValueError("no --source given (camera index, video, image folder or stream URL)")
    if args.render_video and not args.export:
        raise ValueError("--render-video writes DIR/overlay.mp4: give --export DIR too")
    if args.iters < 0 or args.det_width < 0 or args.render_height < 16:
        raise ValueError("--iters and --det-width must be >= 0, --render-height >= 16")
    if args.max_people < 1:
        raise ValueError(f"--max-people {args.max_people}: must be at least 1")
    if args.stream:
        from .stream import parse_stream_url
        parse_stream_url(args.stream)  # a bad URL fails here, before any model loads
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames {args.max_frames}: must be at least 1")


def make_intrinsics(args):
    """(width, height) -> Intrinsics, cached; a calibration made at another resolution with
    the same aspect ratio is scaled to the frame."""
    calib = load_calibration(args.calib) if args.calib else None
    cache = {}

    def intrinsics_for(width, height):
        if (width, height) not in cache:
            if calib is None:
                cache[width, height] = intrinsics_from_fov(width, height, args.fov_deg)
            else:
                factor = width / calib.width
                if abs(calib.height * factor - height) > 1.0:
                    raise ValueError(f"calibration {args.calib}: made for {calib.width}x{calib.height}, "
                                     f"frames are {width}x{height} (different aspect ratio)")
                cache[width, height] = calib if factor == 1 else calib.scaled(factor)
        return cache[width, height]
    return intrinsics_for


def has_display():
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("win32", "darwin")


@dataclass
class Lifting:
    """What every video of a run shares (app.batch keeps one per worker)."""
    model: object           # loaded GUMLP (lifter.model.load_lifter)
    weights: Path
    refine: object          # lifter.refine.RefineOptions
    intrinsics_for: object  # (width, height) -> lifter.camera.Intrinsics


def refine_options(args):
    """The RefineOptions the options ask for (uao-sequence: its measured live preset, with
    --refine-max-ms overriding its budget)."""
    from lifter.refine import RefineOptions

    if args.refine == "uao-sequence":
        live = RefineOptions.preset("sequence-live")
        refine = replace(live, score_threshold=args.score_threshold, max_ms=args.refine_max_ms or live.max_ms)
    else:
        solver = None if args.refine_solver == "auto" else args.refine_solver
        refine = RefineOptions(mode=args.refine, iters=args.iters, score_threshold=args.score_threshold,
                               max_ms=args.refine_max_ms, solver=solver)
    refine.check()
    return refine


def load_lifting(args):
    """Check the lifting options and load the lifter once -> Lifting."""
    import torch

    from lifter.model import load_lifter

    weights = weights_path(args.weights)
    refine = refine_options(args)
    intrinsics_for = make_intrinsics(args)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device available to torch")
    torch.set_num_threads(max(1, args.torch_threads))
    return Lifting(load_lifter(str(weights), args.device), weights, refine, intrinsics_for)


def make_detector_for(args, source):
    """The detector the options ask for, in the mode the source needs: separate stills are
    detected afresh each, video frames are tracked."""
    from detectors import make_detector

    return make_detector(args.detector, config=args.det_config, checkpoint=args.det_checkpoint,
                         device=args.device, static_image=source.stills, max_people=args.max_people)


def run(args, signals=None):
    """Load, run and close everything; signals: an entered app.signals.StopOnSignal."""
    # MediaPipe / TFLite log through glog to stderr on every start; keep errors only
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .exports import prepare_export_dir
    from .sources import open_source, warn

    if args.viewer != "none" and not has_display():
        warn(f"no display: running headless (--viewer none instead of {args.viewer})")
        args.viewer = "none"
    if args.export:
        prepare_export_dir(args.export)
    lifting = load_lifting(args)
    source = open_source(args.source, args.mode)
    try:
        detector = make_detector_for(args, source)
    except BaseException:
        source.close()
        raise
    return run_source(args, source, detector, lifting, signals.attach if signals is not None else None)


def run_source(args, source, detector, lifting, on_pipeline=None, close_detector=True):
    """One opened source through the pipeline into the outputs args asks for; the pipeline
    closes the source and (unless close_detector is False: app.batch reuses detectors) the
    detector. Writes args.export/summary.json last (its presence marks a complete export).
    Returns the summary dict."""
    from .outputs import Outputs
    from .pipeline import Pipeline
    from .smoothing import FrameSmoother
    from .stream import open_stream
    from .tracker import Tracker

    model, intr = lifting.model, lifting.intrinsics_for(*source.size)
    smooth = args.smooth or ("causal" if source.live else "offline")
    meta = {
        "joint_names": list(JOINTS), "parents": list(PARENTS),
        "units": {"keypoints_2d_px": "pixels, original image", "joints_3d_m": "metres, camera frame "
                  "(x right, y down, z forward), root-relative", "root_m": "metres, camera frame"},
        "fps": source.fps, "image_size": list(source.size), "intrinsics": intr.as_dict(),
        "source": str(args.source), "live": source.live,
        "model": {"weights": str(lifting.weights), "config": model.config,
                  "sha256": hashlib.sha256(lifting.weights.read_bytes()).hexdigest()[:16],
                  "meta": getattr(model, "meta", {})},
        "detector": {"name": detector.name, "version": detector.version},
        "refine": {"mode": lifting.refine.mode, "iters": lifting.refine.iters, "max_ms": lifting.refine.max_ms,
                   "solver": lifting.refine.solver_used},
        "bvh_bone_lengths": args.bvh_lengths,
        "smooth": smooth,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    stream = None
    try:
        if smooth == "offline" and source.live:  # held frames would keep the live slots forever
            raise ValueError(f"--smooth offline: source {args.source} is live and cannot wait for look-ahead "
                             "(use causal, or --mode offline)")
        stream = open_stream(args.stream, args.stream_track) if args.stream else None
        outputs = Outputs(args.viewer, args.export, json.loads(json.dumps(meta, default=str)),
                          args.render_video, args.render_height, source.fps, stream=stream)
    except BaseException:
        if stream is not None:
            stream.close()
        if close_detector:
            detector.close()
        source.close()
        raise
    # separate stills are unrelated: everyone found is shown at once, nothing carries over
    tracker = Tracker(confirm_frames=1, max_missed=0) if source.stills else Tracker()
    # from here the pipeline closes outputs (and the stream with them), detector and source
    pipeline = Pipeline(source, detector, model, lifting.intrinsics_for, lifting.refine, outputs, source.live,
                        args.max_frames, args.det_width, args.device, args.progress,
                        tracker=tracker, smoother=FrameSmoother(smooth, source.fps), close_detector=close_detector)
    if on_pipeline is not None:
        on_pipeline(pipeline)
    summary = pipeline.run()
    if stream is not None:
        summary["stream"] = stream.stats()
    if args.export:
        summary["tracks"] = outputs.finalised.get("tracks", [])
        (Path(args.export) / "summary.json").write_text(json.dumps(summary, indent=1))
    for _, error in pipeline.errors:
        if not isinstance(error, ValueError):  # a bug: its traceback is what fixes it
            traceback.print_exception(error)
    return summary


def summary_line(summary, export_dir):
    """What a run did, in one line."""
    stages = ", ".join(f"{k} {v:.1f} ms" for k, v in summary["stage_ms"].items())
    line = (f"{summary['frames']} frames ({summary['frames_with_people']} with people), {summary['fps']:.1f} fps, "
            f"dropped {summary['dropped']}, stopped by {summary['stopped_by']}")
    if summary["unfinished"]:
        line += f", {summary['unfinished']} unfinished frames abandoned"
    if summary["still_running"]:
        line += f", {' and '.join(summary['still_running'])} still busy (left open)"
    line += f"; {stages}" if stages else ""
    if summary.get("exports"):
        line += f"; exports in {export_dir}: {', '.join(summary['exports'])}"
    return line


def main(argv=None):
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        with StopOnSignal() as signals:
            summary = run(args, signals)
    except ValueError as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted while starting; nothing was written", file=sys.stderr)
        return 130
    print(summary_line(summary, args.export))
    for e in summary["errors"]:
        print(f"error: {e['stage']}: {e['type']}: {(e['message'].splitlines() or [''])[0]}", file=sys.stderr)
    if summary["errors"]:  # bad input only: 2, like any other bad input; else a bug: 1
        return 2 if all(e["type"] == "ValueError" for e in summary["errors"]) else 1
    return 0
