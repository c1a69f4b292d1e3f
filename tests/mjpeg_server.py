"""Test helper: serve real clip frames as an HTTP MJPEG stream on 127.0.0.1 at a fixed rate;
stall=True keeps the connection open without sending anything after the last frame."""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2

from lifter.config import shared_dir

CLIP = shared_dir() / "media" / "sports2d_demo.mp4"


def clip_jpegs(count, width=640, start=0):
    cap = cv2.VideoCapture(str(CLIP))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    out = []
    while len(out) < count:
        ok, img = cap.read()
        if not ok:
            break
        img = cv2.resize(img, (width, round(img.shape[0] * width / img.shape[1])))
        out.append(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    cap.release()
    return out


class MjpegServer:
    """`with MjpegServer(jpegs, fps) as url:` streams the jpegs once, then closes (stall=True:
    then keeps the connection open, silent, until the block ends)."""

    def __init__(self, jpegs, fps, stall=False):
        self.jpegs, self.fps, self.stall = jpegs, fps, stall
        self.closing = threading.Event()
        self.sent_at = []  # time.monotonic() of each frame sent
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                t0 = time.monotonic()
                try:
                    for i, jpg in enumerate(server.jpegs):
                        time.sleep(max(0.0, t0 + i / server.fps - time.monotonic()))
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                         + f"Content-Length: {len(jpg)}\r\n\r\n".encode() + jpg + b"\r\n")
                        self.wfile.flush()
                        server.sent_at.append(time.monotonic())
                    if server.stall:
                        server.closing.wait()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/stream.mjpg"

    def __exit__(self, *exc):
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
