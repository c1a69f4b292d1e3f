"""Track-id labels for the views: one colour per track (the same in 2D and 3D) and the
id's digits as seven-segment strokes, which the 3D view draws as lines (Open3D's legacy
window has no text). Tables as data."""
import numpy as np

# Distinct, bright on dark and on video; chosen away from the green-red sigma ramp's
# pure green / red so a label never reads as a confidence.
TRACK_PALETTE = np.array([
    (0.20, 0.60, 1.00), (1.00, 0.55, 0.95), (0.30, 0.95, 0.95), (1.00, 0.75, 0.25),
    (0.70, 0.55, 1.00), (0.95, 0.95, 0.95), (0.55, 0.80, 0.55), (1.00, 0.50, 0.45)])

# Seven segments of a digit cell 0.6 wide and 1 high, origin at the bottom left:
# a top, b top right, c bottom right, d bottom, e bottom left, f top left, g middle.
SEGMENTS = {
    "a": ((0.0, 1.0), (0.6, 1.0)), "b": ((0.6, 1.0), (0.6, 0.5)), "c": ((0.6, 0.5), (0.6, 0.0)),
    "d": ((0.0, 0.0), (0.6, 0.0)), "e": ((0.0, 0.0), (0.0, 0.5)), "f": ((0.0, 0.5), (0.0, 1.0)),
    "g": ((0.0, 0.5), (0.6, 0.5)),
}
DIGITS = {"0": "abcdef", "1": "bc", "2": "abged", "3": "abgcd", "4": "fgbc", "5": "afgcd",
          "6": "afgedc", "7": "abc", "8": "abcdefg", "9": "abcdfg"}
DIGIT_ADVANCE = 0.9  # cell width plus the gap to the next digit
MAX_SEGMENTS = 7 * 4  # room for ids up to 9999 per label


def track_rgb(track_id):
    """Track id (int, or None = untracked) -> (3,) RGB in [0, 1]."""
    if track_id is None:
        return np.array([0.8, 0.8, 0.8])
    return TRACK_PALETTE[(int(track_id) - 1) % len(TRACK_PALETTE)]


def digit_strokes(text):
    """Digits -> (K, 2, 2) stroke end points in cell units (x right, y up), left-aligned
    at the origin; K <= MAX_SEGMENTS (longer ids keep their last four digits)."""
    strokes = []
    for k, ch in enumerate(str(text)[-(MAX_SEGMENTS // 7):]):
        if ch not in DIGITS:
            raise ValueError(f"track label {text!r}: only digits can be drawn")
        strokes += [np.array(SEGMENTS[s]) + (k * DIGIT_ADVANCE, 0.0) for s in DIGITS[ch]]
    return np.array(strokes, dtype=np.float64).reshape(-1, 2, 2)
