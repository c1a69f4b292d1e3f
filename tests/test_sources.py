"""Sources on real media: video file, image folder, truncated/broken files, live MJPEG stream."""
import shutil
import time

import cv2
import numpy as np
import pytest

from app.sources import open_source
from tests.mjpeg_server import CLIP, MjpegServer, clip_jpegs

MEDIA = CLIP.parent


def write(path, text):
    path.write_text(text)
    return path


def take(source, n):
    out = []
    for c in source.frames():
        out.append(c)
        if len(out) == n:
            break
    return out


def test_offline_video_reads_every_frame_in_order():
    src = open_source(CLIP)
    assert not src.live and src.size == (1768, 994) and src.total == 230 and src.fps == pytest.approx(30, abs=0.1)
    frames = take(src, 5)
    src.close()
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.time_s for f in frames] == pytest.approx([i / src.fps for i in range(5)])
    assert frames[0].image.shape == (994, 1768, 3) and frames[0].image.dtype == np.uint8
    assert not np.array_equal(frames[0].image, frames[4].image)


def test_image_folder_sorted_and_bad_image_skipped(tmp_path, capsys):
    shutil.copy(MEDIA / "basketball2.png", tmp_path / "b.png")
    shutil.copy(MEDIA / "basketball1.png", tmp_path / "a.png")
    (tmp_path / "c.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source(tmp_path)
    frames = list(src.frames())
    assert [f.index for f in frames] == [0, 1]
    assert np.array_equal(frames[0].image, cv2.imread(str(MEDIA / "basketball1.png")))
    assert "c.jpg cannot be read as an image, skipped" in capsys.readouterr().err
    single = open_source(MEDIA / "basketball2.png")
    assert len(list(single.frames())) == 1 and single.size == (640, 480)


@pytest.mark.parametrize("make, message", [
    (lambda d: d, "image folder .*: no images"),
    (lambda d: d / "missing.mp4", "source .*missing.mp4: no such file"),
    (lambda d: write(d / "fake.mp4", "hello"), "video .*fake.mp4: cannot be decoded"),
    (lambda d: "7", "camera 7: cannot be opened"),
    (lambda d: "http://127.0.0.1:9/none.mjpg", "stream http://127.0.0.1:9/none.mjpg: cannot be opened"),
])
def test_bad_sources_are_one_line_errors(tmp_path, make, message):
    with pytest.raises(ValueError, match=message) as e:
        open_source(make(tmp_path))
    assert "\n" not in str(e.value)


def test_truncated_video_ends_early_with_a_warning(tmp_path, capsys):
    data = CLIP.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    src = open_source(tmp_path / "cut.mp4")
    n = sum(1 for _ in src.frames())
    assert 0 < n < 230
    assert f"decoding stopped at frame {n} of 230" in capsys.readouterr().err


def test_live_stream_drops_stale_frames_and_keeps_latency_bounded():
    jpegs = clip_jpegs(45)
    with MjpegServer(jpegs, fps=30) as url:
        src = open_source(url)
        assert src.live
        got, latency = [], []
        for c in src.frames():
            time.sleep(0.1)  # a consumer three times slower than the camera
            latency.append(time.monotonic() - c.captured_at)
            got.append(c.index)
        src.close()
    assert got == sorted(got) and len(got) < 30
    assert src.dropped >= 20 and src.dropped + len(got) >= 40
    assert max(latency) < 0.3  # never a queue of stale frames: one frame plus our 0.1 s


def test_live_stream_fast_consumer_gets_every_frame():
    jpegs = clip_jpegs(20)
    with MjpegServer(jpegs, fps=20) as url:
        src = open_source(url)
        got = [c.index for c in src.frames()]
        src.close()
    assert got == list(range(20)) and src.dropped == 0


def test_stream_url_can_be_read_offline():
    jpegs = clip_jpegs(10)
    with MjpegServer(jpegs, fps=100) as url:
        src = open_source(url, mode="offline")
        got = [c.index for c in src.frames()]
        src.close()
    assert not src.live and got == list(range(10))
