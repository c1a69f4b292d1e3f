"""One batch worker (a Ray actor in app.batch): loads the lifter and the detector once,
then exports video after video through the same code as run_demo.py's offline mode
(app.cli.run_source), each into its own folder."""
import argparse
import os
import time

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def one_line(error):
    text = str(error).splitlines()[0] if str(error) else ""
    return text if isinstance(error, ValueError) and text else f"{type(error).__name__}: {text}".rstrip(": ")


def video_args(app_options, video, export_dir):
    """The run_demo.py options of one video: the batch's app options ({dest: value}) with
    its own source and export, headless, every frame in order, no per-video bar."""
    return argparse.Namespace(**{**app_options, "source": str(video), "export": str(export_dir),
                                 "viewer": "none", "mode": "offline", "progress": False})


def pin_process(cores):
    """Keep every thread of this process, and the threads it starts later, on `cores`:
    MediaPipe and the pipeline start threads of their own, which would otherwise spread
    over the cores another worker is using."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cores)
        except OSError:  # a thread that has just ended
            pass


class VideoWorker:
    def __init__(self, app_options, threads=1, cores=None):
        """app_options: {dest: value} of the run_demo.py options every video shares;
        threads: CPU threads this worker may use (BLAS, OpenCV, torch); cores: CPU ids to
        pin the worker to (a local instance gives each worker its own), None = any."""
        if cores is not None:
            pin_process(cores)
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)
        os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe / TFLite start-up chatter
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import cv2
        import torch

        from .cli import load_lifting
        cv2.setNumThreads(threads)
        self.app_options = dict(app_options)
        args = video_args(self.app_options, "unused", "unused")
        self.lifting = load_lifting(args)
        torch.set_num_threads(max(1, min(args.torch_threads, threads)))
        self.detector = None

    def ready(self):
        """Returns once the models are loaded (the actor's constructor has run)."""
        return os.getpid()

    def _detector(self, args, source):
        """A fresh detector for each video: tracking state carried over from the previous
        one would make results depend on the order (building one takes about 0.1 s)."""
        from .cli import make_detector_for
        self._drop_detector()
        self.detector = make_detector_for(args, source)
        return self.detector

    def _drop_detector(self):
        if self.detector is not None:
            self.detector.close()
            self.detector = None

    def process(self, video, export_dir):
        """Export one video into export_dir (a partial export there is redone from the
        start) -> {status: done | failed, frames, frames_with_people, seconds, cpu_s, error}."""
        from .cli import run_source
        from .exports import prepare_export_dir
        from .sources import open_source
        start, cpu_start = time.monotonic(), time.process_time()
        result = {"status": "failed", "frames": 0, "frames_with_people": 0, "seconds": 0.0, "cpu_s": 0.0,
                  "error": None}
        try:
            args = video_args(self.app_options, video, export_dir)
            (prepare_export_dir(export_dir) / "summary.json").unlink(missing_ok=True)
            source = open_source(args.source, "offline")  # closed by the pipeline
            summary = run_source(args, source, self._detector(args, source), self.lifting, close_detector=False)
            result.update(frames=summary["frames"], frames_with_people=summary["frames_with_people"])
            if summary["errors"]:  # a stage failed (a damaged stream, say): the export is partial
                e = summary["errors"][0]
                result["error"] = f"video {video}: {e['stage']}: {(e['message'].splitlines() or [e['type']])[0]}"
            elif summary["frames_with_people"] == 0:
                result["error"] = f"video {video}: nobody found in {summary['frames']} frames"
            else:
                result["status"] = "done"
        except Exception as e:  # recorded for this video; the batch goes on with the others
            self._drop_detector()  # its state after a failure is unknown
            result["error"] = one_line(e)
        result["seconds"] = round(time.monotonic() - start, 3)
        result["cpu_s"] = round(time.process_time() - cpu_start, 3)  # every thread of this worker
        return result

    def close(self):
        self._drop_detector()

