"""Still pictures for documentation from a rendered overlay.mp4 (2D overlay | 3D view):

    python -m app.snapshot out/demo/overlay.mp4 --frame 60 --out docs/images

writes overlay.png (the frame with the 2D skeleton and HUD) and viewer.png (the 3D view
with its colour scale), split where app.outputs joined them.
"""
import argparse
import sys
from pathlib import Path

import cv2

VIEW_ASPECT = 4 / 3  # app.outputs renders the 3D view at render_height * 4/3 wide


def split_frame(path, frame):
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, frame)
    ok, image = cap.read()
    cap.release()
    if not ok:
        raise ValueError(f"video {path}: no frame {frame}")
    view_w = round(image.shape[0] * VIEW_ASPECT)
    return image[:, : image.shape[1] - view_w], image[:, image.shape[1] - view_w:]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m app.snapshot", description=__doc__.split("\n\n")[0])
    ap.add_argument("video", help="overlay.mp4 written by run_demo.py --render-video")
    ap.add_argument("--frame", type=int, default=60, help="frame index (default: %(default)s)")
    ap.add_argument("--out", default=".", help="output directory (default: current)")
    args = ap.parse_args(argv)
    try:
        overlay, view = split_frame(args.video, args.frame)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / "overlay.png"), overlay)
    cv2.imwrite(str(out / "viewer.png"), view)
    print(f"wrote {out / 'overlay.png'} and {out / 'viewer.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
