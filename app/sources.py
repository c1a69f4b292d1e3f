"""Where frames come from: camera index, video file, image folder/file, stream URL, FIFO.

Two behaviours:
* offline (video file, image folder): every frame in order, nothing dropped, media
  time (index / fps), so a run is deterministic;
* live (camera, stream URL, FIFO): a grabber thread reads the device as fast as it
  delivers and keeps only the newest frame. The pipeline takes the newest one whenever
  it is ready, so the camera is never blocked and latency stays bounded; frames
  overwritten before anyone took them are counted in `dropped`.

Every source has frames(), stop() (frames() ends soon; callable from another thread or
a signal handler) and close().
"""
import os
import stat
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")
FOLDER_FPS = 30.0   # image folders carry no frame rate: media time and BVH frame time use this
DEFAULT_FPS = 30.0  # when a container or device reports none
POLL_S = 0.1        # how often a live frames() waiting for a frame looks at stop()
CLOSE_WAIT_S = 0.5  # close() waits this long for the grabber; a stalled read is left to end alone


def warn(message):
    print(f"warning: {message}", file=sys.stderr, flush=True)


@dataclass
class Captured:
    index: int          # frame number in the source (gaps = dropped frames in live mode)
    time_s: float       # media time offline; seconds since the source opened, live
    image: np.ndarray   # (H, W, 3) BGR uint8
    captured_at: float  # time.monotonic() when the frame was read


class _OfflineVideo:
    live, stills = False, False

    def __init__(self, path):
        self.name = f"video {path}"
        self.cap = cv2.VideoCapture(str(path))
        ok, first = self.cap.read() if self.cap.isOpened() else (False, None)
        if not ok:
            self.cap.release()
            raise ValueError(f"{self.name}: cannot be decoded (not a video, damaged, or unsupported codec)")
        self._first = first
        self.fps = self.cap.get(cv2.CAP_PROP_FPS) or DEFAULT_FPS
        count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.total = count if count > 0 else None
        self.size = (first.shape[1], first.shape[0])
        self.dropped = 0

    def frames(self):
        index, image = 0, self._first
        while image is not None:
            yield Captured(index, index / self.fps, image, time.monotonic())
            index += 1
            ok, image = self.cap.read()
            if not ok:
                image = None
        if self.total and index < self.total:
            warn(f"{self.name}: decoding stopped at frame {index} of {self.total} (truncated or damaged file)")

    def stop(self):
        pass  # nothing to interrupt: the reader stops between frames, and one read is short

    def close(self):
        self.cap.release()


class _Images:
    live, stills = False, True

    def __init__(self, paths, name):
        self.paths, self.name = paths, name
        self.fps, self.total, self.dropped = FOLDER_FPS, len(paths), 0
        first = self._read(paths[0])
        if first is None:
            raise ValueError(f"{name}: {paths[0].name} cannot be read as an image")
        self.size = (first.shape[1], first.shape[0])

    @staticmethod
    def _read(path):
        return cv2.imread(str(path), cv2.IMREAD_COLOR)

    def frames(self):
        for index, path in enumerate(self.paths):
            image = self._read(path)
            if image is None:  # one bad file should not end a long folder run
                warn(f"{self.name}: {path.name} cannot be read as an image, skipped")
                continue
            yield Captured(index, index / self.fps, image, time.monotonic())

    def stop(self):
        pass  # nothing to interrupt: the reader stops between frames, and one read is short

    def close(self):
        pass


class _Live:
    """Grabber thread over a cv2.VideoCapture that keeps only the newest frame."""
    live, stills = True, False

    def __init__(self, cap, name):
        self.cap, self.name = cap, name
        ok, first = cap.read()
        if not ok:
            cap.release()
            raise ValueError(f"{name}: opened but delivers no frames")
        self.fps = cap.get(cv2.CAP_PROP_FPS) or DEFAULT_FPS
        self.size = (first.shape[1], first.shape[0])
        self.total, self.dropped = None, 0
        self._t0 = time.monotonic()
        self._latest = Captured(0, 0.0, first, self._t0)
        self._taken = -1
        self._done = False
        self._stopping = False  # a plain attribute: stop() may run in a signal handler
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._grab, name="grabber", daemon=True)
        self._thread.start()

    def _grab(self):
        index = 0
        try:
            while not self._stop.is_set():
                ok, image = self.cap.read()
                now = time.monotonic()
                if not ok:
                    break
                index += 1
                with self._cond:
                    if self._taken < self._latest.index:  # the previous frame was never taken
                        self.dropped += 1
                    self._latest = Captured(index, now - self._t0, image, now)
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()
            # released here, not in close(): releasing while a read is blocked inside the
            # capture (a stalled stream) is unsafe, so the thread that reads releases
            self.cap.release()

    def frames(self):
        while not self._stopping:
            with self._cond:
                while self._latest.index == self._taken and not self._done and not self._stopping:
                    self._cond.wait(POLL_S)
                if self._stopping or self._latest.index == self._taken:
                    return  # stopped, or end of stream and the last frame already taken
                frame = self._latest
                self._taken = frame.index
            yield frame

    def stop(self):
        self._stopping = True

    def close(self):
        """Stop the grabber; a read blocked on a stalled stream is not waited for (FFmpeg
        gives up on it by itself, then the grabber releases the capture)."""
        self._stopping = True
        self._stop.set()
        self._thread.join(timeout=CLOSE_WAIT_S)


def open_source(spec, mode="auto"):
    """Open `spec` (camera index, URL, video, image file or folder, FIFO) as a source.

    mode: auto (live for cameras, URLs and FIFOs, offline otherwise) | live | offline.
    A camera is always live. Raises ValueError with a
    one-line message naming the source when it cannot be used.
    """
    if mode not in ("auto", "live", "offline"):
        raise ValueError(f"source mode {mode!r}: expected auto, live or offline")
    spec = str(spec)
    if spec.isdigit():
        cap = cv2.VideoCapture(int(spec))
        if not cap.isOpened():
            raise ValueError(f"camera {spec}: cannot be opened (no such device or it is busy)")
        return _Live(cap, f"camera {spec}")
    if spec.lower().startswith(URL_SCHEMES):
        if mode == "offline":  # e.g. a video file served over HTTP: every frame, in order
            return _OfflineVideo(spec)
        cap = cv2.VideoCapture(spec, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise ValueError(f"stream {spec}: cannot be opened (unreachable or not a video stream)")
        return _Live(cap, f"stream {spec}")
    path = Path(spec)
    if not path.exists():
        raise ValueError(f"source {spec}: no such file, folder, camera index or URL")
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not images:
            raise ValueError(f"image folder {spec}: no images ({' '.join(IMAGE_EXTS)})")
        return _Images(images, f"image folder {spec}")
    if path.suffix.lower() in IMAGE_EXTS:
        return _Images([path], f"image {spec}")
    is_fifo = stat.S_ISFIFO(os.stat(path).st_mode)
    if mode == "live" or (mode == "auto" and is_fifo):
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise ValueError(f"video {spec}: cannot be decoded (not a video, damaged, or unsupported codec)")
        return _Live(cap, f"{'fifo' if is_fifo else 'video'} {spec}")
    return _OfflineVideo(path)
