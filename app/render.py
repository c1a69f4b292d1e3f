"""The picture users see: the frame with 2D skeletons and the timing HUD, the labelled
sigma colour scale, and the side-by-side composition with the 3D view."""
import cv2
import numpy as np

from .colors import SIGMA_GREEN_M, SIGMA_RED_M, rgb_to_bgr255, sigma_to_rgb
from .overlay import draw_hud, draw_skeleton
from .track_labels import track_rgb


def annotate(frame, hud_lines, height_px=None):
    """Frame (app.frame.Frame) -> its image scaled to height_px (drawing on the small copy
    is what keeps this cheap on HD frames) with every person's 2D skeleton, coloured by 3D
    sigma when lifted (by detector score otherwise), and the HUD."""
    image = frame.image
    scale = 1.0 if height_px is None else height_px / image.shape[0]
    if scale != 1.0:
        image = cv2.resize(image, (round(image.shape[1] * scale), height_px), interpolation=cv2.INTER_LINEAR)
    else:
        image = image.copy()
    # h4 hook (issue 13): the HUD first, so it never hides the id of someone near the top
    draw_hud(image, hud_lines, scale=0.45)
    for p in frame.people:
        # h4 hook (issue 13): the track id above each person, in the track's colour
        label = {} if p.track_id is None else {"label": p.track_id, "label_rgb": track_rgb(p.track_id)}
        if p.sigma_m is not None:
            draw_skeleton(image, p.keypoints_px * scale, values=p.sigma_m, kind="sigma", **label)
        else:
            draw_skeleton(image, p.keypoints_px * scale, values=p.scores, kind="score", **label)
    return image


def draw_sigma_legend(image_bgr, origin_px=(12, 40), size_px=(16, 150)):
    """The colour scale with its numbers: top = uncertain (red), bottom = confident (green)."""
    x, y = origin_px
    w, h = size_px
    h = min(h, image_bgr.shape[0] - y - 10)  # small renders (--render-height 64) get a shorter bar
    if h < 2:
        return image_bgr
    sig = np.linspace(SIGMA_RED_M, SIGMA_GREEN_M, h)
    colours = rgb_to_bgr255(sigma_to_rgb(sig))
    image_bgr[y:y + h, x:x + w] = colours[:, None, :]
    font = cv2.FONT_HERSHEY_SIMPLEX
    for value, yy in ((SIGMA_RED_M, y), (SIGMA_GREEN_M, y + h)):
        cv2.putText(image_bgr, f"{value * 100:.0f} cm", (x + w + 6, yy + 5), font, 0.45, (235, 235, 235), 1,
                    cv2.LINE_AA)
    cv2.putText(image_bgr, "joint sigma", (x, y - 12), font, 0.45, (235, 235, 235), 1, cv2.LINE_AA)
    return image_bgr


def side_by_side(left_bgr, right_bgr):
    """Join two images (the right one scaled to the left's height); width rounded to even
    for video codecs."""
    h = left_bgr.shape[0]
    if right_bgr.shape[0] != h:
        right_bgr = cv2.resize(right_bgr, (round(right_bgr.shape[1] * h / right_bgr.shape[0]), h))
    out = np.concatenate([left_bgr, right_bgr], axis=1)
    return out[:, : out.shape[1] // 2 * 2]


def letterbox(image_bgr, size_wh):
    """Fit the image into size_wh = (W, H) keeping its aspect ratio, centred on black: the
    video keeps its first frame's size when later frames differ (an image folder)."""
    w, h = size_wh
    ih, iw = image_bgr.shape[:2]
    if (iw, ih) == (w, h):
        return image_bgr
    scale = min(w / iw, h / ih)
    nw, nh = max(1, round(iw * scale)), max(1, round(ih * scale))
    out = np.zeros((h, w, 3), np.uint8)
    y0, x0 = (h - nh) // 2, (w - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_AREA)
    return out
