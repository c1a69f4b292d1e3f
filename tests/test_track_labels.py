"""Track ids in the 2D overlay: each tracked person gets a label of its track's colour
above the head; untracked people get none."""
import numpy as np

from app.colors import rgb_to_bgr255
from app.frame import Frame, PersonPose
from app.render import annotate
from app.track_labels import TRACK_PALETTE, track_rgb

POSE_PX = np.array([
    [320, 300], [300, 300], [300, 380], [300, 460], [340, 300], [340, 380], [340, 460],
    [320, 250], [320, 200], [320, 175], [320, 150], [350, 200], [380, 250], [400, 290],
    [290, 200], [260, 250], [240, 290]], np.float32)


def colour_pixels(image, box, rgb):
    x0, y0, x1, y1 = box
    patch = image[y0:y1, x0:x1].astype(int)
    return int((np.abs(patch - rgb_to_bgr255(rgb).astype(int)).max(-1) <= 2).sum())


def test_each_tracked_person_is_labelled_in_its_track_colour():
    people = [PersonPose(POSE_PX - (150, 0), np.ones(17, np.float32), track_id=1),
              PersonPose(POSE_PX + (150, 0), np.ones(17, np.float32), track_id=2),
              PersonPose(POSE_PX, np.ones(17, np.float32))]  # untracked: no label
    image = annotate(Frame(0, 0.0, np.zeros((480, 640, 3), np.uint8), people), [])
    above = lambda x: (x - 30, 110, x + 30, 140)  # noqa: E731  (the head is at y 150)
    assert colour_pixels(image, above(170), track_rgb(1)) > 100
    assert colour_pixels(image, above(470), track_rgb(2)) > 100
    assert colour_pixels(image, above(170), track_rgb(2)) == 0
    assert all(colour_pixels(image, above(320), rgb) == 0 for rgb in TRACK_PALETTE)


def test_track_colours_cycle_and_untracked_is_grey():
    assert np.array_equal(track_rgb(1), track_rgb(1 + len(TRACK_PALETTE)))
    assert not np.array_equal(track_rgb(1), track_rgb(2))
    assert np.ptp(track_rgb(None)) == 0


def test_a_label_stays_inside_the_picture_when_the_head_is_cut_off():
    high = PersonPose(POSE_PX - (0, 160), np.ones(17, np.float32), track_id=1)  # head at y -10
    image = annotate(Frame(0, 0.0, np.zeros((480, 640, 3), np.uint8), [high]), [])
    assert colour_pixels(image, (290, 0, 350, 25), track_rgb(1)) > 100
