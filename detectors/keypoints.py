"""BlazePose-33 -> COCO-17 as an index table; COCO-17 -> lifter joints is
lifter.skeleton.coco_to_lifter, the one table the lifter was trained with."""
import numpy as np

from lifter.skeleton import coco_to_lifter

# COCO_JOINTS[i] is BlazePose landmark BLAZEPOSE_TO_COCO[i]: nose, eye centres (not the
# inner/outer eye corners), ears, shoulders, elbows, wrists, hips, knees, ankles.
BLAZEPOSE_TO_COCO = np.array([0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28])


def blazepose_to_coco(keypoints_bp, scores_bp):
    """(..., 33, 2), (..., 33) -> COCO-17 (..., 17, 2), (..., 17)."""
    return (np.asarray(keypoints_bp)[..., BLAZEPOSE_TO_COCO, :],
            np.asarray(scores_bp)[..., BLAZEPOSE_TO_COCO])


def lifter_joints(keypoints_coco, scores_coco, min_score=0.0):
    """COCO-17 -> lifter order (17, 2) float32 px with NaN where the joint's score is
    below min_score, and its scores (17,) clipped to [0, 1]."""
    kp, sc = coco_to_lifter(keypoints_coco, np.clip(np.nan_to_num(scores_coco), 0.0, 1.0))
    kp = np.where((sc >= min_score)[..., None] & np.isfinite(kp), kp, np.nan).astype(np.float32)
    return kp, sc.astype(np.float32)


def keypoints_bbox(keypoints_px, scores, min_score=0.3, pad=0.1):
    """(4,) xyxy box around the keypoints scored >= min_score, grown by pad of its size
    on each side; None when fewer than two keypoints qualify."""
    ok = (np.asarray(scores) >= min_score) & np.isfinite(keypoints_px).all(-1)
    if ok.sum() < 2:
        return None
    lo, hi = keypoints_px[ok].min(0), keypoints_px[ok].max(0)
    grow = (hi - lo) * pad
    return np.concatenate([lo - grow, hi + grow]).astype(np.float32)
