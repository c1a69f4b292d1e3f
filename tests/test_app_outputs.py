"""app.outputs.Outputs on real exports and a real offscreen 3D view: every frame in the
video whatever its size, files listed only when written, exports finalised first."""
import json

import cv2
import numpy as np
import pytest

from app.frame import Frame, PersonPose
from app.outputs import VIDEO, Outputs
from app.render import letterbox
from lifter.model import GUMLP, save_lifter
from tests.test_app_e2e import MEDIA, run_demo

RNG = np.random.default_rng(0)


def frame(index, width, height):
    person = PersonPose(RNG.uniform(0, min(width, height), (17, 2)).astype(np.float32),
                        np.full(17, 0.9, np.float32), np.array([0, 0, width, height], np.float32),
                        RNG.normal(0, 0.3, (17, 3)), np.array([0.0, 0.0, 3.0]), np.full(17, 0.05))
    return Frame(index, index / 30, np.full((height, width, 3), 40 * index % 256, np.uint8), [person],
                 {"mode": "none", "iters": 0})


def video_frames(path):
    cap = cv2.VideoCapture(str(path))
    count, size = 0, None
    while True:
        ok, image = cap.read()
        if not ok:
            break
        count, size = count + 1, image.shape
    cap.release()
    return count, size


def test_video_keeps_every_frame_when_sizes_differ(tmp_path):
    out = Outputs("none", tmp_path, {"fps": 30.0}, render_video=True, render_height_px=120)
    sizes = [(640, 480), (480, 640), (640, 480), (1000, 300), (480, 640), (640, 480)]
    for i, (w, h) in enumerate(sizes):
        out.handle(frame(i, w, h), ["hud"])
    files, errors = out.close()
    assert errors == [] and files == ["poses.npz", "poses.csv", "skeleton_0.bvh", VIDEO]
    count, shape = video_frames(tmp_path / VIDEO)
    assert count == 6 and shape[0] == 120


def test_image_folder_of_two_sizes_renders_every_frame(tmp_path):
    """End to end (run_demo.py, MediaPipe): 640x480 and 960x540 images alternate."""
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(6):
        image = cv2.imread(str(MEDIA / f"basketball{i % 2 + 1}.png"))
        cv2.imwrite(str(folder / f"{i}.png"), image if i < 3 else cv2.resize(image, (960, 540)))
    save_lifter(GUMLP(width=64, blocks=1), tmp_path / "w.pt")
    result = run_demo(tmp_path / "w.pt", "--source", str(folder), "--export", str(tmp_path / "out"),
                      "--render-video", "--refine", "none")
    assert result.returncode == 0, result.stderr[-2000:]
    count, _ = video_frames(tmp_path / "out" / VIDEO)
    assert count == 6
    assert VIDEO in json.loads((tmp_path / "out" / "summary.json").read_text())["exports"]


def test_video_listed_only_when_written(tmp_path):
    out = Outputs("none", tmp_path, {"fps": 30.0}, render_video=True, render_height_px=64)
    files, errors = out.close()
    assert VIDEO not in files and not (tmp_path / VIDEO).exists() and errors == []


def test_viewer_close_error_does_not_skip_finalising(tmp_path):
    out = Outputs("none", tmp_path, {"fps": 30.0}, render_video=True, render_height_px=64)
    for i in range(3):
        out.handle(frame(i, 96, 64), ["hud"])

    def broken_close():
        raise RuntimeError("GL context lost")
    out.view3d.close = broken_close
    files, errors = out.close()
    assert [str(e) for e in errors] == ["GL context lost"]
    assert np.load(tmp_path / "poses.npz")["frame"].tolist() == [0, 1, 2]
    assert {"poses.csv", "skeleton_0.bvh", VIDEO} <= set(files) and (tmp_path / "skeleton_0.bvh").is_file()


@pytest.mark.parametrize("size, box", [((200, 200), (0, 50, 200, 150)), ((100, 200), (0, 75, 100, 125)),
                                       ((400, 100), (100, 0, 300, 100))])
def test_letterbox_fits_and_centres(size, box):
    image = np.full((40, 80, 3), 255, np.uint8)  # 2:1, white on the black border
    out = letterbox(image, size)
    assert out.shape == (size[1], size[0], 3)
    ys, xs = np.nonzero(out[:, :, 0] > 128)
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == box
    assert letterbox(image, (80, 40)) is image


def test_failing_output_is_reported_and_exports_still_finalised(tmp_path):
    """End to end: the video cannot be written (a folder is in its way): exit 2, the error
    on one line, the run's summary line, npz/csv written, overlay.mp4 not listed."""
    (tmp_path / "out" / VIDEO).mkdir(parents=True)
    save_lifter(GUMLP(width=64, blocks=1), tmp_path / "w.pt")
    result = run_demo(tmp_path / "w.pt", "--source", str(MEDIA / "basketball1.png"), "--export",
                      str(tmp_path / "out"), "--render-video", "--refine", "none")
    assert result.returncode == 2
    errors = [s for s in result.stderr.splitlines() if s.startswith("error:")]
    assert errors == [f"error: outputs: ValueError: video {tmp_path / 'out' / VIDEO}: OpenCV cannot write mp4v here"]
    assert "Traceback" not in result.stderr and "stopped by" in result.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["exports"] == ["poses.npz", "poses.csv"] and summary["errors"][0]["stage"] == "outputs"
    assert np.load(tmp_path / "out" / "poses.npz")["frame"].shape == (0,)
