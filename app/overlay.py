"""2D drawing for the OpenCV view: the lifter-order skeleton coloured per joint, and the
timing HUD. Both draw in place on a BGR uint8 image and return it (one copy fewer per
frame); pass image.copy() to keep the original."""
import cv2
import numpy as np

from lifter.skeleton import BONES, NUM_JOINTS
from .colors import rgb_to_bgr255, score_to_rgb, sigma_to_rgb

COLOUR_SCALES = {"score": score_to_rgb, "sigma": sigma_to_rgb}
_SHIFT = 2  # OpenCV fixed-point bits: joints land at quarter-pixel precision


def joint_colours(values, kind):
    """(17,) scores in [0, 1] (kind "score") or sigmas in metres ("sigma") -> (17, 3) RGB."""
    if kind not in COLOUR_SCALES:
        raise ValueError(f"overlay colour kind {kind!r}: choose one of {', '.join(COLOUR_SCALES)}")
    return COLOUR_SCALES[kind](np.asarray(values, dtype=np.float64).reshape(NUM_JOINTS))


def draw_skeleton(image_bgr, person, colours_rgb=None, values=None, kind="score",
                  radius_px=4, thickness_px=2, label=None, label_rgb=(1.0, 1.0, 1.0)):
    """Draw 17 lifter-order joints and lifter.skeleton.BONES onto image_bgr (in place).

    person: a detectors.Person or (17, 2) pixel array (NaN joints are skipped).
    Colour per joint from colours_rgb (17, 3) in [0, 1], else from values (17,) through
    the shared scale of `kind` ("score" or "sigma"); a Person with neither is coloured by
    its detector scores. A bone takes its child joint's colour.
    label: text (a track id) written above the highest joint, on a box of label_rgb.
    """
    if not (isinstance(image_bgr, np.ndarray) and image_bgr.dtype == np.uint8
            and image_bgr.ndim == 3 and image_bgr.shape[2] == 3):
        raise ValueError("overlay image: expected an (H, W, 3) uint8 BGR array")
    keypoints = np.asarray(getattr(person, "keypoints_px", person), dtype=np.float64)
    if keypoints.shape != (NUM_JOINTS, 2):
        raise ValueError(f"overlay keypoints: expected shape ({NUM_JOINTS}, 2), got {keypoints.shape}")
    if colours_rgb is None:
        if values is None:
            if not hasattr(person, "scores"):
                raise ValueError("overlay: give colours_rgb or values for bare keypoints")
            values, kind = person.scores, "score"
        colours_rgb = joint_colours(values, kind)
    bgr = [tuple(int(c) for c in col) for col in rgb_to_bgr255(np.asarray(colours_rgb).reshape(NUM_JOINTS, 3))]
    ok = np.isfinite(keypoints).all(-1)
    pts = np.round(np.nan_to_num(keypoints) * (1 << _SHIFT)).astype(np.int64)
    pts = np.clip(pts, -(1 << 28), 1 << 28)  # far-off points would overflow OpenCV's int
    for parent, child in BONES:
        if ok[parent] and ok[child]:
            cv2.line(image_bgr, tuple(pts[parent]), tuple(pts[child]), bgr[child],
                     thickness_px, cv2.LINE_AA, _SHIFT)
    for j in np.flatnonzero(ok):
        cv2.circle(image_bgr, tuple(pts[j]), radius_px << _SHIFT, bgr[j], -1, cv2.LINE_AA, _SHIFT)
    if label is not None and ok.any():  # h4 hook (issue 13): track-id label
        top = keypoints[ok][np.argmin(keypoints[ok, 1])]
        draw_label(image_bgr, str(label), (int(top[0]), int(top[1]) - 3 * radius_px), label_rgb)
    return image_bgr


def draw_label(image_bgr, text, anchor_px, rgb, scale=0.55):
    """Text centred above anchor_px on a filled box of colour rgb, dark text."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (w, h), base = cv2.getTextSize(text, font, scale, 1)
    # kept inside the picture: a person whose head is cut off still shows their id
    x = int(np.clip(anchor_px[0] - w // 2, 3, max(image_bgr.shape[1] - w - 3, 3)))
    y = int(np.clip(anchor_px[1] - base, h + 3, max(image_bgr.shape[0] - base, h + 3)))
    box = tuple(int(c) for c in rgb_to_bgr255(np.asarray(rgb)))
    cv2.rectangle(image_bgr, (x - 3, y - h - 3), (x + w + 3, y + base), box, -1)
    cv2.putText(image_bgr, text, (x, y), font, scale, (20, 20, 20), 1, cv2.LINE_AA)


def draw_hud(image_bgr, lines, origin_px=(8, 8), scale=0.5):
    """Write text lines top-left on a dark band so they stay legible on any frame."""
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, 1
    x, y = origin_px
    for line in lines:
        (w, h), base = cv2.getTextSize(str(line), font, scale, thick)
        cv2.rectangle(image_bgr, (x - 3, y - 2), (x + w + 3, y + h + base + 2), (0, 0, 0), -1)
        cv2.putText(image_bgr, str(line), (x, y + h), font, scale, (255, 255, 255), thick, cv2.LINE_AA)
        y += h + base + 6
    return image_bgr
