"""Accept the frames people actually have: grey, BGR, BGRA, views and slices."""
import cv2
import numpy as np


def as_bgr(frame, name="frame"):
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 -> contiguous (H, W, 3) BGR uint8."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"{name}: expected a numpy image array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValueError(f"{name}: expected uint8 pixels, got {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (3, 4))):
        raise ValueError(f"{name}: expected shape (H, W), (H, W, 3) or (H, W, 4), got {frame.shape}")
    if frame.shape[0] < 2 or frame.shape[1] < 2:
        raise ValueError(f"{name}: image is empty ({frame.shape[1]}x{frame.shape[0]} px)")
    if frame.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(frame)
