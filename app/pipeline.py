"""The real-time pipeline, top to bottom:

    source --> detect (2D keypoints) --> lift (GUMLP + UAO refinement) --> outputs
    (thread)   (thread)                  (thread)                         (main thread)

Stages are threads joined by bounded queues; an app.frame.Frame carries one frame's
data and per-stage timings through them. The outputs (exports, windows, video) run on
the main thread because GUI toolkits want it.

Offline (video file, image folder): every put waits for room, so no frame is lost, the
order is kept and the result is deterministic. Live (camera, stream): at most
LIVE_IN_FLIGHT frames are between the source and the outputs, and the capture takes the
source's newest frame only when one of them is finished, so when any stage is the
bottleneck the stale frames are dropped by the source, before any work is spent on
them; a frame still waiting for the detector is replaced by a newer one. Both count as
dropped.

Stopping: end of stream, max_frames, request_stop() (signals, `q`/Esc) and a failing
stage all stop the source; what is in flight drains through to the outputs for at most
drain_s seconds (a stalled source, a hung detector call), then the stages are abandoned.
A failing stage keeps taking its input without working on it, so nothing waits on it
and every frame finished before the failure is exported. Every error is kept. Last, the
outputs are closed (exports finalised first), then the detector and the source, each
only if no stage thread is still inside it.
"""
import queue
import threading
import time
from collections import deque

import cv2
import numpy as np
from tqdm import tqdm

from lifter.refine import SequenceRefiner, lift

from .frame import Frame, PersonPose, clock
from .stats import ROLLING_FRAMES, RunningStat, StageTimes

END = object()  # end-of-stream marker passed down the queues
STAGES = ("decode", "detect", "lift", "render", "export")
DRAIN_S = 3.0        # after a stop request: how long frames in flight may take to reach the outputs
JOIN_S = 0.5         # then: how long the stage threads together get to return
LIVE_IN_FLIGHT = 3   # live: one frame per stage, so all stages work at once and none queues up
POLL_S = 0.1         # how often a waiting thread looks at the stop and abort flags


class Pipeline:
    def __init__(self, source, detector, model, intrinsics_for, refine, outputs, live,
                 max_frames=None, det_width=0, device="cpu", progress=True, drain_s=DRAIN_S,
                 tracker=None, smoother=None, close_detector=True):
        """source: app.sources object; detector: frame -> list[detectors.Person];
        model: loaded GUMLP; intrinsics_for(width, height) -> lifter.camera.Intrinsics;
        refine: lifter.refine.RefineOptions (mode "uao-sequence": each track refined over its
        recent frames by a lifter.refine.SequenceRefiner); outputs: app.outputs.Outputs;
        det_width: detect on a copy resized to this width (0 = full size), keypoints are
        scaled back to original pixels; tracker: app.tracker.Tracker giving people their
        track_id (only people on confirmed tracks go on), None = every person, untracked;
        smoother: app.smoothing.FrameSmoother (None = each frame on its own).
        run() closes outputs, the detector (unless close_detector is False: app.batch keeps
        one per worker) and the source."""
        self.source, self.detector, self.model = source, detector, model
        self.intrinsics_for, self.refine, self.outputs = intrinsics_for, refine, outputs
        self.live, self.max_frames, self.det_width, self.device = live, max_frames, det_width, device
        self.progress, self.drain_s = progress, drain_s
        self.tracker, self.smoother, self.close_detector = tracker, smoother, close_detector
        self.sequence = SequenceRefiner(model, refine, device) if refine.mode == "uao-sequence" else None
        self.times = StageTimes(STAGES)
        self.latency_ms = RunningStat()  # capture to output done, per finished frame
        # stop flags are plain attributes, not locks: request_stop runs in signal handlers
        self.stopped_by = "end of stream"
        self._stop_at = None   # time.monotonic() of the first stop request
        self._stop_now = False
        self._abort = threading.Event()  # the drain time is over: every stage gives up
        self.errors = []                 # (stage, exception), in the order they happened
        self.captured = self.queue_drops = self.done = self.with_people = 0
        self._slots = threading.Semaphore(LIVE_IN_FLIGHT) if live else None
        size = 1 if live else 4
        self.q_detect, self.q_lift, self.q_out = (queue.Queue(size) for _ in range(3))
        self._threads = {}
        self._outputs_failed = False

    @property
    def stopping(self):
        return self._stop_at is not None

    def request_stop(self, reason, now=False):
        """Stop reading the source; frames in flight still reach the outputs, for at most
        drain_s (now=True: not waited for). Takes no lock, so signal handlers may call it."""
        if self._stop_at is None:
            self.stopped_by = reason
            self._stop_at = time.monotonic()
        self._stop_now = self._stop_now or now
        self.source.stop()

    def _fail(self, stage, error):
        self.errors.append((stage, error))
        self.request_stop(f"error in {stage}")

    # --- queues ---------------------------------------------------------------------
    def _put(self, q, item):
        """Wait for room; give up once the run is aborted."""
        while True:
            try:
                q.put(item, timeout=POLL_S)
                return
            except queue.Full:
                if self._abort.is_set():
                    return

    def _put_newest(self, q, frame):
        """Live, into the detector's queue: replace a frame nobody has started on."""
        while True:
            try:
                q.put_nowait(frame)
                return
            except queue.Full:
                try:
                    q.get_nowait()
                except queue.Empty:
                    continue  # the detector just took it
                self.queue_drops += 1  # only the capture thread writes it
                self._retire()

    def _get(self, q):
        while not self._abort.is_set():
            try:
                return q.get(timeout=POLL_S)
            except queue.Empty:
                continue
        return END

    def _retire(self):
        """A frame left the pipeline (output, replaced or discarded): live, its slot is free."""
        if self.live:
            self._slots.release()

    def _start(self, name, target):
        def run():
            try:
                target()
            except BaseException as e:  # any error, even SystemExit, ends the run cleanly
                self._fail(name, e)
        t = threading.Thread(target=run, name=name, daemon=True)
        t.start()
        return t

    # --- stages ---------------------------------------------------------------------
    def _take_slot(self):
        while not self.stopping and not self._abort.is_set():
            if self._slots.acquire(timeout=POLL_S):
                return True
        return False

    def _capture(self):
        frames = iter(self.source.frames())
        try:
            while not self.stopping:
                if self.max_frames is not None and self.captured >= self.max_frames:
                    self.request_stop("max frames")
                    break
                if self.live and not self._take_slot():
                    break
                start = clock()
                c = next(frames, None)
                if c is None or self.stopping:  # a frame read after a stop request is not started
                    self._retire()
                    break
                frame = Frame(c.index, c.time_s, c.image, captured_at=c.captured_at)
                self.captured += 1
                if self.live:  # live reads happen in the grabber thread, off our clock
                    self._put_newest(self.q_detect, frame)
                else:
                    frame.record("decode", start)
                    self._put(self.q_detect, frame)
        finally:
            self._put(self.q_detect, END)

    def _stage(self, name, work, inq, outq, flush=None):
        """Take frames from inq, work on each and pass on the frames it releases (a stage
        that looks ahead holds some back; flush() releases them at the end); END is passed
        on whatever happens. After an error the stage keeps taking its input, unworked, so
        nothing waits on it."""
        failed = False
        try:
            while (frame := self._get(inq)) is not END:
                if not failed:
                    try:
                        for ready in work(frame):
                            self._put(outq, ready)
                        continue
                    except BaseException as e:  # even SystemExit: the frames before it still go out
                        self._fail(name, e)
                        failed = True
                self._retire()
            if flush is not None and not failed:
                for ready in flush():
                    self._put(outq, ready)
        finally:
            self._put(outq, END)

    def _detect(self, frame):
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
        return [frame]

    def _lift(self, frame):
        """Track, lift everyone at once, smooth per track; returns the frames released."""
        start = clock()
        if self.tracker is not None:  # ids first: only people on confirmed tracks are lifted
            frame.people = self.tracker.update(frame.people, frame.time_s)
        people = frame.people
        if self.sequence is not None:
            self._lift_sequences(frame)
        elif people:  # everyone in the frame in one batched call
            h, w = frame.image.shape[:2]
            result = lift(self.model, np.stack([p.keypoints_px for p in people]),
                          np.stack([p.scores for p in people]), self.intrinsics_for(w, h),
                          self.refine, self.device)
            for i, p in enumerate(people):
                p.joints_m, p.root_m, p.sigma_m = result.joints_m[i], result.root_m[i], result.sigma_m[i]
            frame.refine = {"mode": self.refine.mode, "iters": int(result.iters)}
        else:
            frame.refine = {"mode": self.refine.mode, "iters": 0}
        # offline smoothing holds frames back for its look-ahead
        ready = self.smoother.push(frame) if self.smoother is not None else [frame]
        frame.record("lift", start)
        return ready

    def _lift_sequences(self, frame):
        """uao-sequence: each person refined with their own track's recent frames; the
        windows of tracks the tracker has ended are dropped."""
        h, w = frame.image.shape[:2]
        intr = self.intrinsics_for(w, h)
        for slot, p in enumerate(frame.people):
            p.joints_m, p.root_m, p.sigma_m = self.sequence.update(p.track_key(slot), p.keypoints_px, p.scores, intr)
        if self.tracker is not None:
            alive = {t.track_id for t in self.tracker.tracks}
            for key in [k for k in self.sequence.tracks if k not in alive]:
                self.sequence.forget(key)
        frame.refine = {"mode": self.refine.mode, "iters": self.refine.iters if frame.people else 0}

    # --- main thread ----------------------------------------------------------------
    def hud_lines(self, frame, fps, dropped):
        r = self.times.rolling()
        stages = "  ".join(f"{s} {r[s]:.1f}" for s in STAGES if s in r)
        return [f"ms  {stages}",
                f"{fps:.1f} fps  dropped {dropped}  people {len(frame.people)}  "
                f"refine {frame.refine.get('mode')} x{frame.refine.get('iters')}"]

    def dropped(self):
        return self.source.dropped + self.queue_drops

    def _drain_over(self):
        return self.stopping and (self._stop_now or time.monotonic() - self._stop_at > self.drain_s)

    def _output(self, frame, bar, finished_at):
        if self._outputs_failed:
            self._retire()
            return
        span = finished_at[-1] - finished_at[0] if len(finished_at) > 1 else 0.0
        fps = (len(finished_at) - 1) / span if span > 0 else 0.0
        try:
            keep_going = self.outputs.handle(frame, self.hud_lines(frame, fps, self.dropped()))
        except Exception as e:
            self._outputs_failed = True
            self._fail("outputs", e)
            self._retire()
            return
        self._retire()
        self.times.add(frame)
        self.latency_ms.add((time.monotonic() - frame.captured_at) * 1e3)
        finished_at.append(time.monotonic())
        self.done += 1
        self.with_people += bool(frame.people)
        bar.update(1)
        if self.live:
            bar.set_postfix(dropped=self.dropped(), refresh=False)
        if not keep_going:
            self.request_stop("window closed")

    def _join(self):
        deadline = time.monotonic() + JOIN_S
        for t in self._threads.values():
            t.join(max(0.0, deadline - time.monotonic()))

    def _close(self):
        """Outputs first (exports finalised), then the detector and the source, each only
        if no stage thread is still inside it (a hung call keeps it; the process exit ends it)."""
        busy = [name for name, t in self._threads.items() if t.is_alive()]
        exports, errors = self.outputs.close()
        self.errors += [("close outputs", e) for e in errors]
        owned = ([("detect", self.detector)] if self.close_detector else []) + [("capture", self.source)]
        for stage, thing in owned:
            if stage not in busy:
                try:
                    thing.close()
                except Exception as e:
                    self.errors.append((f"close {stage}", e))
        return exports, busy

    def run(self):
        """Process until the source ends, a stop is requested or a stage fails; close
        everything; return the summary dict (errors are listed there and in self.errors)."""
        t_start = time.monotonic()
        self._threads = {
            "capture": self._start("capture", self._capture),
            "detect": self._start("detect", lambda: self._stage("detect", self._detect, self.q_detect, self.q_lift)),
            "lift": self._start("lift", lambda: self._stage("lift", self._lift, self.q_lift, self.q_out,
                                                        self.smoother.flush if self.smoother else None)),
        }
        total = self.source.total
        if self.max_frames is not None and total is not None:
            total = min(total, self.max_frames)
        bar = tqdm(total=None if self.live else total, unit="frame", disable=not self.progress,
                   desc="live" if self.live else "offline", dynamic_ncols=True)
        finished_at = deque(maxlen=ROLLING_FRAMES)  # for the HUD's rolling fps
        try:
            while not self._drain_over():
                try:
                    frame = self.q_out.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                if frame is END:
                    break
                self._output(frame, bar, finished_at)
        finally:
            self._abort.set()  # whatever is still working gives up
            self._join()
            while True:  # lifted while the stages gave up: still exported
                try:
                    frame = self.q_out.get_nowait()
                except queue.Empty:
                    break
                if frame is not END:
                    self._output(frame, bar, finished_at)
            bar.close()
            exports, busy = self._close()
        wall = time.monotonic() - t_start
        return self._summary(wall, exports, busy)

    def _summary(self, wall, exports, busy):
        fps = self.done / wall if wall > 0 else 0.0
        stage_ms, stage_cpu_ms = self.times.mean(), self.times.mean_cpu()
        lat = self.latency_ms
        return {
            "frames": self.done, "frames_with_people": self.with_people, "dropped": self.dropped(),
            # taken from the source but never output: abandoned at the drain deadline or
            # discarded after a stage failed
            "unfinished": self.captured - self.done - self.queue_drops,
            "live": self.live, "stopped_by": self.stopped_by, "wall_s": round(wall, 3),
            "fps": round(fps, 2), "stage_ms": {k: round(v, 2) for k, v in stage_ms.items()},
            "stage_ms_rolling": {k: round(v, 2) for k, v in self.times.rolling().items()},
            "stage_cpu_ms": {k: round(v, 2) for k, v in stage_cpu_ms.items()},
            "latency_ms": {"mean": round(lat.mean(), 1) if lat.count else None,
                           "max": round(lat.max, 1) if lat.count else None,
                           "rolling": round(lat.rolling(), 1) if lat.count else None},
            # share of each output frame's time (1 / fps) spent lifting + refining: the
            # lift thread's CPU time, and its wall time, which also counts waiting for a core
            # while detection runs on the other stages' threads at the same time
            "lift_refine_share": round(stage_cpu_ms.get("lift", 0.0) * fps / 1e3, 4),
            "lift_refine_share_wall": round(stage_ms.get("lift", 0.0) * fps / 1e3, 4),
            "errors": [{"stage": stage, "type": type(e).__name__, "message": str(e)} for stage, e in self.errors],
            "still_running": busy,
            "exports": exports,
        }
