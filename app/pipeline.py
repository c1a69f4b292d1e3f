"""The real-time pipeline, top to bottom:

    source --> detect (2D keypoints) --> lift (GUMLP + UAO refinement) --> outputs
    (thread)   (thread)                  (thread)                         (main thread)

Stages are threads joined by bounded queues; an app.frame.Frame carries one frame's
data and per-stage timings through them. The outputs (exports, windows, video) run on
the main thread because GUI toolkits want it.

Offline (video file, image folder): every put waits for room, so no frame is lost, the
order is kept and the result is deterministic. Live (camera, stream): the source keeps
only its newest frame and every put replaces a frame still waiting, so each stage
always works on the newest frame and latency stays bounded; replaced frames are
counted as dropped.

Stopping: end of stream, max_frames, request_stop() (signals, `q`/Esc) all make the
source stop; what is already in flight drains through to the outputs, which are then
closed (exports finalised).
"""
import queue
import threading
import time
from collections import deque

import cv2
import numpy as np
from tqdm import tqdm

from lifter.refine import lift

from .frame import Frame, PersonPose, clock

END = object()  # end-of-stream marker passed down the queues
STAGES = ("decode", "detect", "lift", "render", "export")
ROLLING_FRAMES = 30


class StageTimes:
    """Per-stage wall ms (rolling mean over the last ROLLING_FRAMES frames, whole-run
    mean) and whole-run mean thread-CPU ms."""

    def __init__(self):
        self.recent = {s: deque(maxlen=ROLLING_FRAMES) for s in STAGES}
        self.total = {s: 0.0 for s in STAGES}
        self.total_cpu = {s: 0.0 for s in STAGES}
        self.count = {s: 0 for s in STAGES}

    def add(self, frame):
        for s, ms in frame.timings_ms.items():
            self.recent[s].append(ms)
            self.total[s] += ms
            self.total_cpu[s] += frame.cpu_ms[s]  # Frame.record writes both
            self.count[s] += 1

    def rolling(self):
        return {s: float(np.mean(v)) for s, v in self.recent.items() if v}

    def mean(self):
        return {s: self.total[s] / self.count[s] for s in STAGES if self.count[s]}

    def mean_cpu(self):
        return {s: self.total_cpu[s] / self.count[s] for s in STAGES if self.count[s]}


class Pipeline:
    def __init__(self, source, detector, model, intrinsics_for, refine, outputs, live,
                 max_frames=None, det_width=0, device="cpu", progress=True):
        """source: app.sources object; detector: frame -> list[detectors.Person];
        model: loaded GUMLP; intrinsics_for(width, height) -> lifter.camera.Intrinsics;
        refine: lifter.uao.RefineOptions; outputs: app.outputs.Outputs;
        det_width: detect on a copy resized to this width (0 = full size), keypoints are
        scaled back to original pixels."""
        self.source, self.detector, self.model = source, detector, model
        self.intrinsics_for, self.refine, self.outputs = intrinsics_for, refine, outputs
        self.live, self.max_frames, self.det_width, self.device = live, max_frames, det_width, device
        self.progress = progress
        self.times = StageTimes()
        self._stop = threading.Event()   # graceful: stop reading, drain what is in flight
        self._abort = threading.Event()  # a stage failed: everyone gives up
        self.stopped_by = "end of stream"
        self.errors = []
        self.queue_drops = 0
        self._drop_lock = threading.Lock()
        size = 1 if live else 4  # live: one waiting frame at most, so it is never stale by more
        self.q_detect, self.q_lift, self.q_out = (queue.Queue(size) for _ in range(3))

    def request_stop(self, reason):
        if not self._stop.is_set():
            self.stopped_by = reason
        self._stop.set()

    # --- queues ---------------------------------------------------------------------
    def _put(self, q, item):
        if self.live and item is not END:
            while True:
                try:
                    q.put_nowait(item)
                    return
                except queue.Full:
                    try:
                        q.get_nowait()  # a staler frame nobody has started on yet
                        with self._drop_lock:
                            self.queue_drops += 1
                    except queue.Empty:
                        pass
        while not self._abort.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _get(self, q):
        while not self._abort.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue
        return END

    def _thread(self, target, name):
        def run():
            try:
                target()
            except Exception as e:  # surfaced by run() after the other stages stopped
                self.errors.append(e)
                self._abort.set()
        t = threading.Thread(target=run, name=name, daemon=True)
        t.start()
        return t

    # --- stages ---------------------------------------------------------------------
    def _capture(self):
        frames = iter(self.source.frames())
        taken = 0
        try:
            while not self._stop.is_set() and not self._abort.is_set():
                if self.max_frames is not None and taken >= self.max_frames:
                    self.request_stop("max frames")
                    break
                start = clock()
                c = next(frames, None)
                if c is None:
                    break
                frame = Frame(c.index, c.time_s, c.image, captured_at=c.captured_at)
                if not self.live:  # live reads happen in the grabber thread, off our clock
                    frame.record("decode", start)
                self._put(self.q_detect, frame)
                taken += 1
        finally:
            self._put(self.q_detect, END)

    def _detect(self):
        while (frame := self._get(self.q_detect)) is not END:
            start = clock()
            image, scale = frame.image, 1.0
            if self.det_width and image.shape[1] > self.det_width:
                scale = image.shape[1] / self.det_width
                image = cv2.resize(image, (self.det_width, round(image.shape[0] / scale)),
                                   interpolation=cv2.INTER_AREA)
            frame.people = [PersonPose(np.asarray(p.keypoints_px, np.float32) * scale,
                                       np.asarray(p.scores, np.float32),
                                       np.asarray(p.bbox_xyxy, np.float32) * scale)
                            for p in self.detector(image)]
            frame.record("detect", start)
            self._put(self.q_lift, frame)
        self._put(self.q_lift, END)

    def _lift(self):
        while (frame := self._get(self.q_lift)) is not END:
            start = clock()
            people = frame.people
            if people:  # everyone in the frame in one batched call
                h, w = frame.image.shape[:2]
                result = lift(self.model, np.stack([p.keypoints_px for p in people]),
                              np.stack([p.scores for p in people]), self.intrinsics_for(w, h),
                              self.refine, self.device)
                for i, p in enumerate(people):
                    p.joints_m, p.root_m, p.sigma_m = result.joints_m[i], result.root_m[i], result.sigma_m[i]
                frame.refine = {"mode": self.refine.mode, "iters": int(result.iters)}
            else:
                frame.refine = {"mode": self.refine.mode, "iters": 0}
            frame.record("lift", start)
            self._put(self.q_out, frame)
        self._put(self.q_out, END)

    # --- main thread ----------------------------------------------------------------
    def hud_lines(self, frame, fps, dropped):
        r = self.times.rolling()
        stages = "  ".join(f"{s} {r[s]:.1f}" for s in STAGES if s in r)
        return [f"ms  {stages}",
                f"{fps:.1f} fps  dropped {dropped}  people {len(frame.people)}  "
                f"refine {frame.refine.get('mode')} x{frame.refine.get('iters')}"]

    def dropped(self):
        return self.source.dropped + self.queue_drops

    def run(self):
        """Process until the source ends or a stop is requested; returns the summary dict."""
        t_start = time.monotonic()
        threads = [self._thread(self._capture, "capture"), self._thread(self._detect, "detect"),
                   self._thread(self._lift, "lift")]
        total = self.source.total
        if self.max_frames is not None and total is not None:
            total = min(total, self.max_frames)
        bar = tqdm(total=None if self.live else total, unit="frame", disable=not self.progress,
                   desc="live" if self.live else "offline", dynamic_ncols=True)
        done, with_people, latency = 0, 0, []
        finished_at = deque(maxlen=ROLLING_FRAMES)  # for the HUD's rolling fps
        drained = False
        try:
            while (frame := self._get(self.q_out)) is not END:
                span = finished_at[-1] - finished_at[0] if len(finished_at) > 1 else 0.0
                fps = (len(finished_at) - 1) / span if span > 0 else 0.0
                keep_going = self.outputs.handle(frame, self.hud_lines(frame, fps, self.dropped()))
                self.times.add(frame)
                latency.append((time.monotonic() - frame.captured_at) * 1e3)
                finished_at.append(time.monotonic())
                done += 1
                with_people += bool(frame.people)
                bar.update(1)
                if self.live:
                    bar.set_postfix(dropped=self.dropped(), refresh=False)
                if not keep_going:
                    self.request_stop("window closed")
            drained = True
        finally:
            self._stop.set()  # whatever ended the loop, the source stops reading
            if not drained:   # the outputs failed: nobody will take what the stages hold
                self._abort.set()
            for t in threads:
                t.join(timeout=5.0)
            bar.close()
        if self.errors:
            raise self.errors[0]
        wall = time.monotonic() - t_start
        fps = done / wall if wall > 0 else 0.0
        stage_ms, stage_cpu_ms = self.times.mean(), self.times.mean_cpu()
        return {
            "frames": done, "frames_with_people": with_people, "dropped": self.dropped(),
            "live": self.live, "stopped_by": self.stopped_by, "wall_s": round(wall, 3),
            "fps": round(fps, 2), "stage_ms": {k: round(v, 2) for k, v in stage_ms.items()},
            "stage_ms_rolling": {k: round(v, 2) for k, v in self.times.rolling().items()},
            "stage_cpu_ms": {k: round(v, 2) for k, v in stage_cpu_ms.items()},
            "latency_ms": {"mean": round(float(np.mean(latency)), 1) if latency else None,
                           "max": round(float(np.max(latency)), 1) if latency else None},
            # share of each output frame's time (1 / fps) spent lifting + refining: the
            # lift thread's CPU time, and its wall time, which also counts waiting for a core
            # while detection runs on the other stages' threads at the same time
            "lift_refine_share": round(stage_cpu_ms.get("lift", 0.0) * fps / 1e3, 4),
            "lift_refine_share_wall": round(stage_ms.get("lift", 0.0) * fps / 1e3, 4),
        }
