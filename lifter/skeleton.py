"""The 17-joint Human3.6M skeleton and the 2D keypoint definitions, as data.

Two joint sets share one index order (Human3.6M's):

* OUTPUT (3D) joints follow Human3.6M's definitions: pelvis = midpoint of the hip
  joints, joint 9 ("neck/nose") sits in front of the neck, joint 10 is the head top.
* INPUT (2D) joints are what a COCO-style detector can actually see. Detectors give
  nose, eyes and ears, not a head top, and their hips sit at the skin surface rather
  than at the femur heads. So the lifter's 2D input is built from COCO-17 keypoints
  by the table LIFTER_FROM_COCO below, both at run time (detectors/) and at training
  time (lifter/generator.py synthesises COCO-17 points from mocap, then applies the
  same table). This is the one place that decides what the 2D input means.
"""
import numpy as np

JOINTS = (
    "pelvis", "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "spine", "thorax", "neck_nose", "head",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)
NUM_JOINTS = len(JOINTS)
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
LEFT = (4, 5, 6, 11, 12, 13)
RIGHT = (1, 2, 3, 14, 15, 16)
ROOT = 0
CENTRE = 7  # the spine: centre joint of the GCN's centripetal/centrifugal kernels
BONES = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)  # 16 (parent, child)
SYMMETRIC_PAIRS = tuple(zip(LEFT, RIGHT))


def _flip_permutation(left, right, n):
    perm = list(range(n))
    for a, b in zip(left, right):
        perm[a], perm[b] = b, a
    return tuple(perm)


FLIP_PERM = _flip_permutation(LEFT, RIGHT, NUM_JOINTS)  # index map for a mirrored image

# COCO-17, the keypoint set of MMPose's COCO models and a subset of BlazePose's 33.
COCO_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO_LEFT = (1, 3, 5, 7, 9, 11, 13, 15)
COCO_RIGHT = (2, 4, 6, 8, 10, 12, 14, 16)
COCO_FLIP_PERM = _flip_permutation(COCO_LEFT, COCO_RIGHT, len(COCO_JOINTS))
COCO_BONES = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
              (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4))

# Input joint i = weighted sum of source keypoints; its score = the lowest contributing
# score. One table per 2D source:
#  - coco17: what detectors (MMPose COCO models, BlazePose's COCO subset) report.
#  - h36m17: 2D already in Human3.6M's layout (its ground truth, or CPN fine-tuned on it).
#    It has a head top and "neck/nose" instead of eyes and nose: the face points are
#    interpolated between the two (fractions measured on the face geometry of
#    lifter/data.py), so both sources mean the same thing to the network.
LIFTER_FROM_COCO = {
    "pelvis": {"left_hip": 0.5, "right_hip": 0.5},
    "right_hip": {"right_hip": 1.0},
    "right_knee": {"right_knee": 1.0},
    "right_ankle": {"right_ankle": 1.0},
    "left_hip": {"left_hip": 1.0},
    "left_knee": {"left_knee": 1.0},
    "left_ankle": {"left_ankle": 1.0},
    "spine": {"left_hip": 0.25, "right_hip": 0.25, "left_shoulder": 0.25, "right_shoulder": 0.25},
    "thorax": {"left_shoulder": 0.5, "right_shoulder": 0.5},
    "neck_nose": {"nose": 1.0},
    "head": {"left_eye": 0.5, "right_eye": 0.5},
    "left_shoulder": {"left_shoulder": 1.0},
    "left_elbow": {"left_elbow": 1.0},
    "left_wrist": {"left_wrist": 1.0},
    "right_shoulder": {"right_shoulder": 1.0},
    "right_elbow": {"right_elbow": 1.0},
    "right_wrist": {"right_wrist": 1.0},
}
LIFTER_FROM_H36M = {
    **{name: {name: 1.0} for name in JOINTS},
    "pelvis": {"left_hip": 0.5, "right_hip": 0.5},
    "spine": {"left_hip": 0.25, "right_hip": 0.25, "left_shoulder": 0.25, "right_shoulder": 0.25},
    "thorax": {"left_shoulder": 0.5, "right_shoulder": 0.5},
    "neck_nose": {"neck_nose": 0.71, "head": 0.29},   # the nose
    "head": {"neck_nose": 0.46, "head": 0.54},        # between the eyes
}


def _matrix(table, source_names):
    index = {name: i for i, name in enumerate(source_names)}
    m = np.zeros((NUM_JOINTS, len(source_names)), np.float32)
    for i, name in enumerate(JOINTS):
        for src, w in table[name].items():
            m[i, index[src]] = w
    return m


INPUT_MATRICES = {"coco17": _matrix(LIFTER_FROM_COCO, COCO_JOINTS),
                  "h36m17": _matrix(LIFTER_FROM_H36M, JOINTS)}
COCO_TO_LIFTER_MATRIX = INPUT_MATRICES["coco17"]


def to_lifter_input(keypoints, scores=None, source="coco17"):
    """Convert 2D keypoints of a source layout to the lifter's 17 input joints.

    keypoints: (..., 17, 2) pixels; scores: (..., 17) or None; source: "coco17" | "h36m17".
    Returns (keypoints (..., 17, 2), scores (..., 17) or None). A joint built from
    several keypoints gets the lowest of their scores, so a missing (NaN) hip makes the
    pelvis missing too instead of pulling it halfway to nowhere.
    """
    m = INPUT_MATRICES[source]
    kp = np.asarray(keypoints, dtype=np.float32)
    finite = np.isfinite(kp).all(-1)
    out = np.einsum("jc,...cd->...jd", m, np.where(finite[..., None], kp, 0))
    # 0 * NaN is NaN: mask by hand so only joints built from a missing point go missing
    out[np.einsum("jc,...c->...j", (m > 0).astype(np.float32), (~finite).astype(np.float32)) > 0] = np.nan
    if scores is None:
        return out, None
    sc = np.asarray(scores, dtype=np.float32)
    masked = np.where(m > 0, sc[..., None, :], np.inf)
    return out, masked.min(axis=-1)


def coco_to_lifter(keypoints_coco, scores_coco=None):
    """COCO-17 (..., 17, 2) -> lifter input joints; see to_lifter_input."""
    return to_lifter_input(keypoints_coco, scores_coco, "coco17")
