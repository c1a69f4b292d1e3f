"""Where finished frames go, on the main thread: pose exports, the Open3D window, the
OpenCV window and the rendered video (2D overlay and 3D view side by side)."""
from pathlib import Path

import cv2

from .exports import PoseRecorder
from .frame import clock
from .render import annotate, draw_sigma_legend, letterbox, side_by_side
from .viewer import WINDOW_LEFT_PX, WINDOW_TOP_PX, SkeletonViewer

VIDEO = "overlay.mp4"
WINDOW = "pose overlay (q / Esc to quit)"


class Outputs:
    def __init__(self, viewer="none", export_dir=None, meta=None, render_video=False,
                 render_height_px=480, fps=30.0, stream=None):
        """viewer: open3d (3D window + OpenCV overlay window) | opencv (one window with the
        overlay and the offscreen 3D view side by side) | none (headless).
        stream: an app.stream stream (live skeletons to animation tools) or None; closed here."""
        self.viewer_mode, self.render_height, self.fps = viewer, render_height_px, fps
        self.recorder = PoseRecorder(export_dir, meta or {}) if export_dir else None
        self.video_path = Path(export_dir) / VIDEO if render_video else None
        self._video, self._video_size = None, None  # (W, H) of the first frame, kept for all
        self._first_show = True
        self.stream = stream
        self.view3d = None
        self.finalised = {}  # what the recorder's close wrote: {"files", "tracks", "frames"}
        if viewer != "none" or render_video:
            side = round(render_height_px * 4 / 3)
            self.view3d = SkeletonViewer(side, render_height_px, visible=(viewer == "open3d"))

    def handle(self, frame, hud_lines):
        """Show, render and record one finished frame; returns False when the user asked to
        quit. The pose is recorded last, so a frame counts in the exports exactly when
        every output took it."""
        if self.stream is not None:  # live skeletons to animation tools, named in the HUD
            self.stream.send(frame)
            hud_lines = [*hud_lines, self.stream.hud_line()]
        keep_going = self._show(frame, hud_lines) if self.view3d is not None else True
        if self.recorder:
            start = clock()
            self.recorder.write(frame)
            frame.record("export", start)
        return keep_going

    def _show(self, frame, hud_lines):
        start = clock()
        keep_going = self.view3d.update(frame.people)
        overlay = annotate(frame, hud_lines, self.render_height)
        if self.video_path or self.viewer_mode == "opencv":
            picture = side_by_side(overlay, draw_sigma_legend(self.view3d.capture()))
        else:
            picture = overlay
        if self.video_path:
            if self._video is None:
                size = (picture.shape[1], picture.shape[0])
                video = cv2.VideoWriter(str(self.video_path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, size)
                if not video.isOpened():
                    video.release()
                    raise ValueError(f"video {self.video_path}: OpenCV cannot write mp4v here")
                self._video, self._video_size = video, size
            # the writer silently skips a frame of another size
            self._video.write(letterbox(picture, self._video_size))
        if self.viewer_mode != "none":
            if self._first_show:
                cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
                cv2.moveWindow(WINDOW, WINDOW_LEFT_PX + (self.view3d.width + 20 if self.viewer_mode == "open3d"
                                                         else 0), WINDOW_TOP_PX)
                self._first_show = False
            cv2.imshow(WINDOW, picture)
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                keep_going = False
        frame.record("render", start)
        return keep_going

    def close(self):
        """Finalise the pose exports first, then release the video and close the windows;
        every step runs even when an earlier one fails. Returns (names of the files
        written in the export dir, [exceptions raised on the way])."""
        files, errors = [], []

        def attempt(step):
            try:
                return step()
            except Exception as e:
                errors.append(e)
                return None
        if self.recorder:
            self.finalised = attempt(self.recorder.close) or {}
            files += self.finalised.get("files", [])
        if self.stream is not None:
            attempt(self.stream.close)
        if self._video is not None:
            attempt(self._video.release)
            files.append(VIDEO)
        if self.view3d is not None:
            attempt(self.view3d.close)
        if self.viewer_mode != "none":
            attempt(cv2.destroyAllWindows)
        return files, errors
