"""How long the demo takes to end after Ctrl-C while its live stream has stalled.

    python benchmarks/stop_time.py [--runs 2]

Serves real clip frames as MJPEG on 127.0.0.1 (tests/mjpeg_server.py), 60 frames at 15 fps,
then keeps the connection open without sending; runs `run_demo.py --viewer none --export
DIR` with the shipped weights on it, waits until the stream is silent, sends SIGINT once
(then, in a second run, twice 0.2 s apart) and prints the seconds from the first signal to
the process's exit, its exit code, and whether poses.jsonl/npz/csv/bvh were written.
"""
import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.mjpeg_server import MjpegServer, clip_jpegs  # noqa: E402

SENT = 60
FILES = ("poses.jsonl", "poses.npz", "poses.csv")


def stop_once(signals, out_dir):
    server = MjpegServer(clip_jpegs(SENT), fps=15, stall=True)
    with server as url:
        proc = subprocess.Popen([sys.executable, "run_demo.py", "--source", url, "--viewer", "none",
                                 "--no-progress", "--export", str(out_dir)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t0 = time.monotonic()
        while len(server.sent_at) < SENT and time.monotonic() - t0 < 120:
            time.sleep(0.1)
        time.sleep(1.0)  # the last frame is processed; the stream is silent
        asked = time.monotonic()
        for _ in range(signals):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.2)
        try:
            stdout, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        took = time.monotonic() - asked
    written = all((out_dir / f).is_file() for f in FILES) and any(out_dir.glob("skeleton_*.bvh"))
    return took, proc.returncode, written, stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=2, help="runs per signal count (default: %(default)s)")
    args = ap.parse_args()
    for signals in (1, 2):
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                took, code, written, line = stop_once(signals, Path(tmp))
            print(f"SIGINT x{signals}: exit {code} after {took:.2f} s, exports written: {written}; {line[:100]}")


if __name__ == "__main__":
    main()
