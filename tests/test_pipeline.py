"""app.pipeline.Pipeline driven directly: fake source, detector and stalls, real threads,
a real (tiny, untrained) GUMLP and real exports written and read back."""
import json
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from app.outputs import Outputs
from app.pipeline import JOIN_S, LIVE_IN_FLIGHT, Pipeline
from app.sources import Captured
from app.stats import ROLLING_FRAMES, RunningStat
from lifter.camera import intrinsics_from_fov
from lifter.model import GUMLP
from lifter.refine import RefineOptions

W, H = 64, 48
DRAIN_S = 1.0
RNG = np.random.default_rng(0)
KEYPOINTS_PX = (RNG.uniform([20, 8], [44, 40], size=(17, 2))).astype(np.float32)
MODEL = GUMLP(width=32, blocks=1).eval()


@pytest.fixture(autouse=True)
def one_torch_thread():
    """As the app runs (--torch-threads 1): more only fight the stage threads for the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class FakeSource:
    """Offline: `count` frames in order. stall_at: frames() blocks before that frame until
    stop() (or, with honour_stop=False, until release is set). live: like app.sources'
    grabber, each frame is the newest of a camera ticking every tick_s; skipped ones are
    dropped."""

    def __init__(self, count=12, live=False, stall_at=None, honour_stop=True, tick_s=0.005,
                 fail_at=None, before_fail=None):
        self.count, self.live, self.stall_at, self.honour_stop = count, live, stall_at, honour_stop
        self.tick_s, self.fail_at, self.before_fail = tick_s, fail_at, before_fail
        self.total = None if live else count
        self.dropped, self.closed, self.stopped = 0, 0, threading.Event()
        self.release, self.stalled = threading.Event(), threading.Event()

    def frames(self):
        t0, last = time.monotonic(), -1
        for i in range(self.count):
            if i == self.stall_at:
                self.stalled.set()
                (self.stopped if self.honour_stop else self.release).wait(30)
                return
            if i == self.fail_at:
                self.before_fail()
                raise OSError("camera unplugged")
            if self.live:
                time.sleep(self.tick_s)
                now = time.monotonic()
                index = max(last + 1, int((now - t0) / self.tick_s))
                self.dropped += index - last - 1
                last = index
            else:
                index, now = i, time.monotonic()
            yield Captured(index, index / 30, np.full((H, W, 3), index % 256, np.uint8), now)

    def stop(self):
        self.stopped.set()

    def close(self):
        self.closed += 1


class FakeDetector:
    """One person per frame. `hook(call)` runs inside the call (raise, hang, sleep)."""

    def __init__(self, hook=None):
        self.hook, self.calls, self.inside, self.closed = hook, 0, 0, 0
        self.closed_while_inside = False

    def __call__(self, image):
        self.inside += 1
        try:
            call = self.calls
            self.calls += 1
            if self.hook:
                self.hook(call)
            return [SimpleNamespace(keypoints_px=KEYPOINTS_PX, scores=np.full(17, 0.9, np.float32),
                                    bbox_xyxy=np.array([20, 8, 44, 40], np.float32))]
        finally:
            self.inside -= 1

    def close(self):
        self.closed += 1
        self.closed_while_inside |= self.inside > 0


class SlowOutputs(Outputs):
    def __init__(self, out_dir, delay_s=0.0, fail_at=None):
        super().__init__("none", out_dir, {"fps": 30.0})
        self.delay_s, self.fail_at, self.handled = delay_s, fail_at, 0

    def handle(self, frame, hud_lines):
        if self.handled == self.fail_at:
            raise RuntimeError("disk full")
        time.sleep(self.delay_s)
        self.handled += 1
        return super().handle(frame, hud_lines)


def make(tmp_path, source=None, detector=None, outputs=None, **kw):
    source = source or FakeSource()
    detector = detector or FakeDetector()
    outputs = outputs or SlowOutputs(tmp_path)
    pipe = Pipeline(source, detector, MODEL, lambda w, h: intrinsics_from_fov(w, h), RefineOptions("none"),
                    outputs, source.live, progress=False, drain_s=DRAIN_S, **kw)
    return pipe, source, detector


def run_in_thread(pipe):
    """Start pipe.run() in a thread; returns (thread, result dict filled when it ends)."""
    result = {}

    def target():
        result["summary"] = pipe.run()
        result["ended_at"] = time.monotonic()
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, result


def exported_frames(out_dir):
    return [json.loads(s)["frame"] for s in (out_dir / "poses.jsonl").read_text().splitlines()]


def assert_exports(out_dir, frames):
    assert exported_frames(out_dir) == frames
    assert np.load(out_dir / "poses.npz")["frame"].tolist() == frames
    assert len((out_dir / "poses.csv").read_text().splitlines()) == 1 + 17 * len(frames)
    assert (out_dir / "skeleton_0.bvh").is_file() == bool(frames)


def test_offline_run_exports_every_frame_and_closes_everything_once(tmp_path):
    pipe, source, detector = make(tmp_path)
    summary = pipe.run()
    assert summary["frames"] == 12 and summary["errors"] == [] and summary["unfinished"] == 0
    assert summary["stopped_by"] == "end of stream" and summary["still_running"] == []
    assert summary["exports"] == ["poses.npz", "poses.csv", "skeleton_0.bvh"]
    assert_exports(tmp_path, list(range(12)))
    z = np.load(tmp_path / "poses.npz")
    assert np.isfinite(z["joints_3d_m"]).all() and np.allclose(z["keypoints_2d_px"][:, 0], KEYPOINTS_PX, atol=0.01)
    assert (detector.calls, detector.closed, source.closed) == (12, 1, 1)


def test_failing_stage_keeps_the_finished_frames(tmp_path):
    """The detector fails on frame 6 while frames 0-5, lifted, wait for slow outputs."""
    def hook(call):
        if call == 6:
            raise RuntimeError("detector crashed")
    pipe, _, detector = make(tmp_path, detector=FakeDetector(hook), outputs=SlowOutputs(tmp_path, 0.03))
    summary = pipe.run()
    assert_exports(tmp_path, [0, 1, 2, 3, 4, 5])
    assert summary["frames"] == 6 and summary["stopped_by"] == "error in detect"
    assert summary["errors"] == [{"stage": "detect", "type": "RuntimeError", "message": "detector crashed"}]
    assert detector.closed == 1 and not detector.closed_while_inside


def test_every_error_is_reported(tmp_path):
    """The detector fails on frame 5 while the source fails reading frame 7: both are kept."""
    source_at_7, detector_failing = threading.Event(), threading.Event()

    def before_source_fails():
        source_at_7.set()
        assert detector_failing.wait(10)

    def hook(call):
        if call == 5:
            assert source_at_7.wait(10)
            detector_failing.set()
            raise RuntimeError("detector crashed")
    source = FakeSource(fail_at=7, before_fail=before_source_fails)
    pipe, _, _ = make(tmp_path, source=source, detector=FakeDetector(hook))
    summary = pipe.run()
    assert sorted((e["stage"], e["type"]) for e in summary["errors"]) == [("capture", "OSError"),
                                                                          ("detect", "RuntimeError")]
    assert_exports(tmp_path, [0, 1, 2, 3, 4])


def test_failing_outputs_still_finalise_what_was_written(tmp_path):
    pipe, source, detector = make(tmp_path, outputs=SlowOutputs(tmp_path, fail_at=4))
    summary = pipe.run()
    assert summary["frames"] == 4 and summary["errors"][0]["stage"] == "outputs"
    assert_exports(tmp_path, [0, 1, 2, 3])
    assert detector.closed == 1 and source.closed == 1


def test_stage_ending_by_base_exception_does_not_hang(tmp_path):
    def hook(call):
        if call == 2:
            raise SystemExit(3)
    pipe, _, _ = make(tmp_path, detector=FakeDetector(hook))
    t, result = run_in_thread(pipe)
    t.join(10)
    assert not t.is_alive(), "run() still waiting after a stage ended by SystemExit"
    assert result["summary"]["errors"] == [{"stage": "detect", "type": "SystemExit", "message": "3"}]
    assert_exports(tmp_path, [0, 1])


def test_hung_detector_call_stop_is_bounded_and_the_detector_stays_open(tmp_path):
    """A detector call that never returns, with the offline queue behind it full: a stop
    ends the run after the drain time, frames done before it are exported, and the detector
    a thread is still inside is not closed."""
    release = threading.Event()
    entered = threading.Event()

    def hook(call):
        if call == 3:
            entered.set()
            release.wait(30)
    source = FakeSource(count=40)
    pipe, _, detector = make(tmp_path, source=source, detector=FakeDetector(hook))
    t, result = run_in_thread(pipe)
    try:
        assert entered.wait(10)
        time.sleep(0.3)  # the capture fills the queue behind the hung call
        assert pipe.q_detect.full()
        asked = time.monotonic()
        pipe.request_stop("test")
        t.join(10)
        assert not t.is_alive()
        assert result["ended_at"] - asked < DRAIN_S + JOIN_S + 1.0
        summary = result["summary"]
        assert summary["still_running"] == ["detect"] and summary["stopped_by"] == "test"
        assert summary["unfinished"] > 0
        assert_exports(tmp_path, [0, 1, 2])
        assert detector.closed == 0 and source.closed == 1
    finally:
        release.set()


@pytest.mark.parametrize("honour_stop", [True, False])
def test_stalled_source_can_be_stopped(tmp_path, honour_stop):
    """A live source that stops delivering: a source whose stop() works ends at once; one
    stuck for good is abandoned after the drain time and left open."""
    source = FakeSource(count=40, live=True, stall_at=5, honour_stop=honour_stop)
    pipe, _, _ = make(tmp_path, source=source)
    t, result = run_in_thread(pipe)
    try:
        assert source.stalled.wait(10)
        time.sleep(0.3)  # the five frames reach the outputs
        asked = time.monotonic()
        pipe.request_stop("SIGINT")
        t.join(10)
        assert not t.is_alive()
        took = result["ended_at"] - asked
        summary = result["summary"]
        assert summary["stopped_by"] == "SIGINT" and summary["frames"] == 5
        assert len(exported_frames(tmp_path)) == 5 and (tmp_path / "skeleton_0.bvh").is_file()
        if honour_stop:
            assert took < 1.0 and summary["still_running"] == [] and source.closed == 1
        else:
            assert DRAIN_S <= took < DRAIN_S + JOIN_S + 1.0
            assert summary["still_running"] == ["capture"] and source.closed == 0
    finally:
        source.release.set()


@pytest.mark.parametrize("slow", ["detect", "outputs"])
def test_live_drops_stale_frames_before_detection(tmp_path, slow):
    """Whichever stage is slow, frames are dropped before the detector: every detected
    frame reaches the outputs, and latency stays a few stage times."""
    delay_s = 0.05
    detector = FakeDetector((lambda call: time.sleep(delay_s)) if slow == "detect" else None)
    outputs = SlowOutputs(tmp_path, delay_s if slow == "outputs" else 0.0)
    source = FakeSource(count=10_000, live=True)
    pipe, _, _ = make(tmp_path, source=source, detector=detector, outputs=outputs)
    t, result = run_in_thread(pipe)
    time.sleep(1.5)
    pipe.request_stop("test")
    t.join(10)
    summary = result["summary"]
    assert summary["frames"] >= 10 and summary["dropped"] > 5 * summary["frames"]
    assert detector.calls == summary["frames"]  # no detection was thrown away
    assert summary["latency_ms"]["max"] < (LIVE_IN_FLIGHT + 1) * delay_s * 1e3 + 400  # + scheduling on a busy box
    frames = exported_frames(tmp_path)
    assert frames == sorted(set(frames)) and frames[-1] - frames[0] > len(frames)
    if slow == "detect":
        assert pipe.queue_drops > 0  # newer frames replaced the one waiting for the detector


def test_latency_record_is_bounded():
    stat = RunningStat()
    values = np.random.default_rng(1).uniform(0, 100, 100_000)
    for v in values:
        stat.add(float(v))
    assert stat.count == 100_000 and len(stat.recent) == ROLLING_FRAMES
    assert stat.mean() == pytest.approx(values.mean()) and stat.max == values.max()
    assert stat.rolling() == pytest.approx(values[-ROLLING_FRAMES:].mean())


def test_pipeline_latency_is_streamed(tmp_path):
    pipe, _, _ = make(tmp_path, source=FakeSource(count=2 * ROLLING_FRAMES + 5))
    summary = pipe.run()
    assert pipe.latency_ms.count == summary["frames"] == 2 * ROLLING_FRAMES + 5
    assert len(pipe.latency_ms.recent) == ROLLING_FRAMES
    assert 0 < summary["latency_ms"]["mean"] <= summary["latency_ms"]["max"]


def test_max_frames_stops_the_source(tmp_path):
    pipe, source, _ = make(tmp_path, max_frames=5)
    summary = pipe.run()
    assert summary["frames"] == 5 and summary["stopped_by"] == "max frames"
    assert source.stopped.is_set()
    assert_exports(tmp_path, [0, 1, 2, 3, 4])
