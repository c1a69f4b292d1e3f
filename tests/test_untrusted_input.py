"""Files from outside are parsed, never executed: crafted npz pickles, damaged calibrations."""
import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lifter import h36m
from lifter.camera import load_calibration
from lifter.safe_npz import UnsafeFileError, load_npz

REPO = Path(__file__).resolve().parents[1]


class _RunsShell:
    """Pickles as a call to os.system, the way a crafted file would."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def _npz_with_pickle(path, name, payload):
    """An npz whose member `name` is an object array whose pickle holds `payload`."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": ()})
    arr = np.empty((), object)
    arr[()] = {"S9": payload}
    body = pickle.dumps(arr, protocol=3)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name + ".npy", buf.getvalue() + body)


def test_crafted_h36m_npz_is_refused_without_running_anything(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "data_3d_h36m.npz"
    _npz_with_pickle(path, "positions_3d", _RunsShell(f"touch {marker}"))
    # the same file does run the command through np.load(allow_pickle=True): the test is real
    with pytest.raises(UnsafeFileError, match=r"data_3d_h36m.npz: refused, its pickle names posix.system"):
        h36m.h36m_trials(str(tmp_path), ["S9"])
    assert not marker.exists()
    np.load(path, allow_pickle=True)["positions_3d"]
    assert marker.exists()


def test_evaluate_cli_refuses_a_crafted_npz_in_one_line(tmp_path):
    marker = tmp_path / "ran"
    _npz_with_pickle(tmp_path / "data_3d_h36m.npz", "positions_3d", _RunsShell(f"touch {marker}"))
    (tmp_path / "data_2d_h36m_gt.npz").write_bytes((tmp_path / "data_3d_h36m.npz").read_bytes())
    out = subprocess.run([sys.executable, "-m", "lifter.evaluate", "--h36m", str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and not marker.exists()
    assert out.stderr.count("\n") == 1 and "refused" in out.stderr and "Traceback" not in out.stderr


def test_videopose3d_layout_loads_through_the_restricted_unpickler(tmp_path):
    pos = {"S9": {"Walking 1": [np.arange(6, dtype=np.float32).reshape(1, 3, 2)] * 4}}
    np.savez(tmp_path / "f.npz", positions_2d=pos, metadata={"num_joints": 17, "symmetry": [[1, 2], [3]],
                                                              "scale": np.float64(1.5)})
    out = load_npz(tmp_path / "f.npz")
    got = out["positions_2d"].item()["S9"]["Walking 1"]
    assert len(got) == 4 and got[0].dtype == np.float32 and got[0].tolist() == pos["S9"]["Walking 1"][0].tolist()
    assert out["metadata"].item() == {"num_joints": 17, "symmetry": [[1, 2], [3]], "scale": 1.5}


@pytest.mark.parametrize("name, text", [
    ("truncated.yml", "%YAML:1.0\ncamera_matrix: !!opencv-matrix\n  rows: 3\n  cols: 3\n  dt: d\n  data: [1,0,2\n"),
    ("truncated.xml", '<?xml version="1.0"?>\n<opencv_storage><camera_matrix type_id="opencv-matrix"><rows>3'),
    ("binary.yaml", "\x00\x01garbage"),
    ("rows.yaml", "camera_matrix: !!opencv-matrix\n  rows: 2\n  cols: 3\n  dt: d\n  data: [1, 2, 3]\n"),
    ("focal.json", '{"K": [[0, 0, 320], [0, 0, 240], [0, 0, 1]]}'),
])
def test_damaged_calibration_is_a_one_line_error(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(ValueError, match=rf"calibration file .*{name}: ") as e:
        load_calibration(str(p))
    assert "\n" not in str(e.value)


def test_damaged_calibration_exits_2_with_one_line(tmp_path):
    p = tmp_path / "cam.yml"
    p.write_text("%YAML:1.0\ncamera_matrix: !!opencv-matrix\n  rows: 3\n  data: [1,0,\n")
    out = subprocess.run([sys.executable, "run_demo.py", "--source", str(tmp_path), "--calib", str(p),
                          "--viewer", "none"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(f"error: calibration file {p}") and out.stderr.count("\n") == 1


def test_opencv_written_calibrations_still_load(tmp_path):
    import cv2
    K = np.array([[800.0, 0, 321], [0, 805, 239], [0, 0, 1]])
    for ext in ("yaml", "xml"):
        fs = cv2.FileStorage(str(tmp_path / f"c.{ext}"), cv2.FILE_STORAGE_WRITE)
        fs.write("image_width", 640)
        fs.write("image_height", 480)
        fs.write("camera_matrix", K)
        fs.write("distortion_coefficients", np.array([[-0.1, 0.01, 0.001, 0.002, 0.0]]))
        fs.release()
        intr = load_calibration(str(tmp_path / f"c.{ext}"))
        assert (intr.fx, intr.fy, intr.cx, intr.cy, intr.width, intr.height) == (800, 805, 321, 239, 640, 480)
        assert intr.dist == pytest.approx((-0.1, 0.01, 0.001, 0.002, 0.0))


def test_npz_announcing_a_huge_array_is_refused_before_allocating(tmp_path):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 12,)})
    with zipfile.ZipFile(tmp_path / "big.npz", "w") as zf:
        zf.writestr("positions_2d.npy", buf.getvalue() + b"\0" * 64)
    with pytest.raises(ValueError, match="big.npz: positions_2d.npy announces"):
        load_npz(tmp_path / "big.npz")
