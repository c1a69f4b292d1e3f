"""The 2D overlay on a real frame: joints land where they should, in the shared colours."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.colors import rgb_to_bgr255, score_to_rgb, sigma_to_rgb
from app.overlay import draw_hud, draw_skeleton
from detectors import Person
from lifter.config import shared_dir

MEDIA = shared_dir() / "media"
# A standing figure in lifter joint order, pixels.
POSE_PX = np.array([
    [320, 300], [300, 300], [300, 380], [300, 460], [340, 300], [340, 380], [340, 460],
    [320, 250], [320, 200], [320, 175], [320, 150], [350, 200], [380, 250], [400, 290],
    [290, 200], [260, 250], [240, 290]], np.float64)


@pytest.fixture
def frame():
    grey = cv2.imread(str(MEDIA / "basketball2.png"), cv2.IMREAD_GRAYSCALE)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def pixel(img, xy):
    return img[int(xy[1]), int(xy[0])]


def test_joints_take_their_score_colours(frame):
    scores = np.linspace(0, 1, 17)
    before = frame.copy()
    out = draw_skeleton(frame, POSE_PX, values=scores, kind="score")
    assert out is frame  # drawn in place
    expect = rgb_to_bgr255(score_to_rgb(scores))
    for j, xy in enumerate(POSE_PX):
        np.testing.assert_array_equal(pixel(out, xy), expect[j], err_msg=f"joint {j}")
    changed = np.any(out != before, axis=-1)
    assert changed.sum() > 500
    assert not changed[:100].any() and not changed[:, :200].any()  # nothing far from the body


def test_sigma_scale_and_bone_colour(frame):
    sigma = np.full(17, 0.01)
    sigma[3] = 0.5  # right ankle: very uncertain -> red; its bone (knee -> ankle) too
    out = draw_skeleton(frame, POSE_PX, values=sigma, kind="sigma", radius_px=3)
    green, red = rgb_to_bgr255(sigma_to_rgb(0.01)), rgb_to_bgr255(sigma_to_rgb(0.5))
    np.testing.assert_array_equal(pixel(out, POSE_PX[0]), green)
    np.testing.assert_array_equal(pixel(out, POSE_PX[3]), red)
    np.testing.assert_array_equal(pixel(out, (300, 420)), red)  # mid right shin
    np.testing.assert_array_equal(pixel(out, (340, 420)), green)  # mid left shin


def test_person_missing_joints_and_explicit_colours(frame):
    kp = POSE_PX.copy()
    kp[16] = np.nan  # right wrist missing: neither it nor its bone is drawn
    person = Person(kp.astype(np.float32), np.ones(17, np.float32), np.zeros(4), kp, np.ones(17), "coco17")
    before = frame.copy()
    out = draw_skeleton(frame, person)
    np.testing.assert_array_equal(pixel(out, POSE_PX[0]), rgb_to_bgr255(score_to_rgb(1.0)))
    np.testing.assert_array_equal(pixel(out, (245, 285)), pixel(before, (245, 285)))
    blue = np.tile([0.0, 0.0, 1.0], (17, 1))
    out = draw_skeleton(before.copy(), POSE_PX, colours_rgb=blue)
    np.testing.assert_array_equal(pixel(out, POSE_PX[10]), [255, 0, 0])


def test_hud_writes_top_left_only(frame):
    before = frame.copy()
    out = draw_hud(frame, ["detector 31.2 ms", "lifter 1.4 ms"])
    changed = np.any(out != before, axis=-1)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 300 and ys.max() < 60 and xs.max() < 200


def test_bad_inputs_are_one_line_errors(frame):
    with pytest.raises(ValueError, match="uint8"):
        draw_skeleton(frame.astype(np.float32), POSE_PX, values=np.ones(17))
    with pytest.raises(ValueError, match="17, 2"):
        draw_skeleton(frame, POSE_PX[:5], values=np.ones(17))
    with pytest.raises(ValueError, match="kind"):
        draw_skeleton(frame, POSE_PX, values=np.ones(17), kind="depth")
    with pytest.raises(ValueError, match="colours_rgb or values"):
        draw_skeleton(frame, POSE_PX)
