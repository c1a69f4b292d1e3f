"""Stopping run_demo.py (subprocess, real MediaPipe, real MJPEG over HTTP on 127.0.0.1)
while its live stream has stalled: the connection stays open but no frame comes."""
import json
import signal
import subprocess
import time

import numpy as np
import pytest

from lifter.model import GUMLP, save_lifter
from tests.mjpeg_server import MjpegServer, clip_jpegs
from tests.test_app_e2e import ENV, REPO, demo_cmd, wait_for_lines

SENT = 60


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "w.pt"
    save_lifter(GUMLP(width=64, blocks=1), path)
    return path


@pytest.mark.parametrize("signals", [1, 2])
def test_sigint_stops_a_stalled_stream_and_keeps_every_export(weights, tmp_path, signals):
    """One SIGINT: finish and finalise; a second one soon after: finalise at once. Both
    end within 8 s with exit 0 and every export."""
    server = MjpegServer(clip_jpegs(SENT), fps=15, stall=True)
    with server as url:
        proc = subprocess.Popen(demo_cmd(weights, "--source", url, "--export", str(tmp_path), "--refine", "none"),
                                cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for_lines(tmp_path / "poses.jsonl", 3, proc)
            t0 = time.monotonic()
            while len(server.sent_at) < SENT and time.monotonic() - t0 < 60:
                time.sleep(0.1)
            time.sleep(1.0)  # the last frame is processed: the app now waits on a silent stream
            assert proc.poll() is None
            asked = time.monotonic()
            for _ in range(signals):
                proc.send_signal(signal.SIGINT)
                time.sleep(0.2)
            stdout, stderr = proc.communicate(timeout=30)
            took = time.monotonic() - asked
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, stderr[-2000:]
    assert took < 8.0
    for name in ("poses.jsonl", "poses.npz", "poses.csv", "summary.json"):
        assert (tmp_path / name).is_file(), name
    assert list(tmp_path.glob("skeleton_*.bvh")), "no BVH written"
    summary = json.loads((tmp_path / "summary.json").read_text())
    n = len((tmp_path / "poses.jsonl").read_text().splitlines())
    assert summary["stopped_by"] == "SIGINT" and summary["frames"] == n >= 3 and summary["live"]
    assert np.load(tmp_path / "poses.npz")["frame"].shape == (n,)
    lines = stdout.strip().splitlines()
    assert len(lines) == 1 and f"{n} frames" in lines[0] and "stopped by SIGINT" in lines[0]
    assert "exports in" in lines[0] and "SIGINT: stopping" in stderr and "Traceback" not in stderr
