"""How alike two people's 2D poses are: box IoU and object keypoint similarity (OKS),
both as (N, M) matrices, and duplicate suppression by them. Shared by the detectors
(one person found twice) and app.tracker (the same person in the next frame).
"""
import numpy as np

from lifter.skeleton import JOINTS

# COCO's per-keypoint OKS constants (sigmas of human annotators' spread, relative to
# object scale), carried over to the lifter's joints; joints averaged from several
# COCO points take the constant of what they are built from.
OKS_SIGMA = {
    "pelvis": 0.107, "right_hip": 0.107, "right_knee": 0.087, "right_ankle": 0.089,
    "left_hip": 0.107, "left_knee": 0.087, "left_ankle": 0.089,
    "spine": 0.093, "thorax": 0.079, "neck_nose": 0.026, "head": 0.025,
    "left_shoulder": 0.079, "left_elbow": 0.072, "left_wrist": 0.062,
    "right_shoulder": 0.079, "right_elbow": 0.072, "right_wrist": 0.062,
}
OKS_KAPPA = np.array([2 * OKS_SIGMA[name] for name in JOINTS])  # (17,)
DUPLICATE_OKS = 0.5   # above this, two poses in one frame are one person found twice
DUPLICATE_IOU = 0.6


def box_iou(a_xyxy, b_xyxy):
    """(N, 4), (M, 4) boxes -> (N, M) intersection over union."""
    a, b = np.asarray(a_xyxy, np.float64).reshape(-1, 4), np.asarray(b_xyxy, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), axis=-1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def oks(a_px, b_px, area_px2, a_scores=None, b_scores=None, min_score=0.3):
    """(N, 17, 2), (M, 17, 2) lifter-order keypoints -> (N, M) OKS in [0, 1].

    area_px2: (M,) object areas of the b poses (their box area), the OKS scale. Only
    joints present (finite, scored >= min_score) in both poses count; a pair sharing no
    joint scores 0."""
    a, b = np.asarray(a_px, np.float64), np.asarray(b_px, np.float64)
    ok_a = np.isfinite(a).all(-1) & (True if a_scores is None else np.asarray(a_scores) >= min_score)
    ok_b = np.isfinite(b).all(-1) & (True if b_scores is None else np.asarray(b_scores) >= min_score)
    d2 = np.sum((np.nan_to_num(a)[:, None] - np.nan_to_num(b)[None]) ** 2, axis=-1)  # (N, M, 17)
    scale2 = np.maximum(np.asarray(area_px2, np.float64), 1.0)[None, :, None] * OKS_KAPPA ** 2
    sim = np.exp(-d2 / (2 * scale2))
    both = ok_a[:, None] & ok_b[None]
    n = both.sum(-1)
    return np.where(n > 0, (sim * both).sum(-1) / np.maximum(n, 1), 0.0)


def box_area(box_xyxy):
    """(..., 4) -> (...) box area in px^2."""
    box = np.asarray(box_xyxy, np.float64)
    return np.prod(np.clip(box[..., 2:] - box[..., :2], 0, None), axis=-1)


def suppress_duplicates(people, max_oks=DUPLICATE_OKS, max_iou=DUPLICATE_IOU):
    """Drop every pose that repeats a better-scored one (OKS > max_oks or box IoU >
    max_iou). people: objects with keypoints_px, scores, bbox_xyxy; order is kept."""
    if len(people) < 2:
        return list(people)
    kp = np.stack([p.keypoints_px for p in people])
    sc = np.stack([p.scores for p in people])
    boxes = np.stack([p.bbox_xyxy for p in people])
    similar = (oks(kp, kp, box_area(boxes), sc, sc) > max_oks) | (box_iou(boxes, boxes) > max_iou)
    keep = []
    for i in np.argsort(-np.nanmean(sc, axis=1), kind="stable"):
        if not any(similar[i, j] for j in keep):
            keep.append(i)
    return [people[i] for i in sorted(keep)]
