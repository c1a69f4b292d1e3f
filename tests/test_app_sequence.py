"""--refine uao-sequence in the app: each tracked person refined over their own recent
frames (lifter.refine.SequenceRefiner), on the real clip with the shipped lifter."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.mjpeg_server import CLIP

REPO = Path(__file__).resolve().parents[1]
ENV = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
FRAMES = 60


def export(tmp_path, refine):
    out = tmp_path / refine
    cmd = [sys.executable, "run_demo.py", "--source", str(CLIP), "--export", str(out), "--viewer", "none",
           "--no-progress", "--max-frames", str(FRAMES), "--smooth", "off", "--refine", refine]
    result = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def track_accel_mm(out):
    """Mean root-relative joint acceleration over every track's consecutive frames, mm/frame^2."""
    z = np.load(out / "poses.npz")
    acc = []
    for p in range(z["joints_3d_m"].shape[1]):
        j = z["joints_3d_m"][:, p]
        a = np.linalg.norm(j[2:] - 2 * j[1:-1] + j[:-2], axis=-1)
        acc.append(a[np.isfinite(a)])
    return 1e3 * float(np.concatenate(acc).mean())


def test_uao_sequence_refines_every_tracked_person_and_steadies_them(tmp_path):
    seq = export(tmp_path, "uao-sequence")
    records = [json.loads(line) for line in (seq / "poses.jsonl").read_text().splitlines()]
    people = [p for r in records for p in r["people"]]
    assert len(records) == FRAMES and people
    assert all(p["track_id"] is not None and p["refine"]["mode"] == "uao-sequence" for p in people)
    assert all(np.isfinite(p["joints_3d_m"]).all() and np.isfinite(p["root_m"]).all() for p in people)
    assert json.loads((seq / "meta.json").read_text())["refine"]["mode"] == "uao-sequence"
    # the window's temporal term steadies the skeleton compared with the lifter alone
    assert track_accel_mm(seq) < 0.8 * track_accel_mm(export(tmp_path, "none"))
