"""Motion -> the 34 raw points per frame: 17 joints in the rig's own definitions, then the
17 COCO markers a 2D detector would report for the same body (nose, eyes, ears placed in
the head's frame; hips on the skin). lifter/mocap/h36m_targets.py then gives the first 17
Human3.6M's definitions.
Raw definitions: pelvis = midpoint of the two hip joints (mocap roots sit ~80 mm higher);
spine = halfway along the spine chain from the pelvis to the thorax; joint 9 = in front
of the neck, 0.65 L below the head top and 0.48 L forward; head = head top; L = distance
from thorax to head top (~185 mm).
"""
import numpy as np

from ..skeleton import COCO_JOINTS, JOINTS, PARENTS

# Face markers in the head frame, relative to the head top, in units of L:
# (up, forward, left). Anthropometric proportions of an adult head.
FACE = {"nose": (-0.46, 0.42, 0.0), "left_eye": (-0.30, 0.36, 0.17), "right_eye": (-0.30, 0.36, -0.17),
        "left_ear": (-0.40, -0.02, 0.40), "right_ear": (-0.40, -0.02, -0.40)}
NECK_NOSE = (-0.65, 0.48, 0.0)
# COCO hips sit on the skin, outside and a little above the femur heads (metres, (up, left) outward).
COCO_HIP_OFFSET_M = (0.02, 0.03)
UP = np.array([0.0, 1.0, 0.0])
NUM_POINTS = len(JOINTS) + len(COCO_JOINTS)
COCO_OFFSET = len(JOINTS)  # points[:, 17:] are the COCO markers
# Every COCO marker hangs from the output joint it moves with (for re-posing/bone scaling).
_COCO_PARENT = {"nose": "head", "left_eye": "head", "right_eye": "head", "left_ear": "head",
                "right_ear": "head"}
POINT_PARENTS = tuple(PARENTS) + tuple(
    JOINTS.index(_COCO_PARENT.get(n, n)) for n in COCO_JOINTS)


def unit(v):
    return v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-12)


def head_axes(motion, mapping):
    """The head's (up, forward, left) as rest-pose directions, each (3,): the rotation of
    mapping["head_frame"] in frame f carries them to the head's axes in that frame."""
    rest = motion.rest
    if mapping["rest_upright"]:
        left = rest[mapping["left_shoulder"]] - rest[mapping["right_shoulder"]]
        left = unit(left - UP * (left @ UP))
        return UP, np.cross(left, UP), left
    # no standing rest pose: take the body's upright frame (Y up, left from the hips) in the
    # head's rest coordinates, averaged over the take (the head faces forward on average)
    P, R = motion.positions, motion.rotations[mapping["head_frame"]]
    left_w = P[mapping["left_hip"]] - P[mapping["right_hip"]]
    left_w = unit(left_w - (left_w @ UP)[:, None] * UP)
    up_r = unit(np.einsum("fji,j->fi", R, UP).mean(0))
    left_r = np.einsum("fji,fj->fi", R, left_w).mean(0)
    left_r = unit(left_r - up_r * (left_r @ up_r))
    return up_r, np.cross(left_r, up_r), left_r


def motion_points(motion, mapping):
    """Motion -> (F, 34, 3) float32: 17 raw joints then 17 COCO markers (metres, Y up)."""
    P, rest = motion.positions, motion.rest
    get = lambda role: P[mapping[role]]
    pelvis = 0.5 * (get("left_hip") + get("right_hip"))
    # spine: halfway along the polyline pelvis -> chain -> thorax (segment lengths are rigid,
    # so they are measured once on the rest pose)
    pts = [pelvis] + [P[n] for n in mapping["chain"]]
    rest_pts = [0.5 * (rest[mapping["left_hip"]] + rest[mapping["right_hip"]])] + [rest[n] for n in mapping["chain"]]
    seg = np.array([np.linalg.norm(b - a) for a, b in zip(rest_pts[:-1], rest_pts[1:])])
    half, cum = seg.sum() / 2, np.cumsum(seg)
    k = int(np.searchsorted(cum, half))
    t = (half - (cum[k] - seg[k])) / max(seg[k], 1e-9)
    spine = pts[k] + t * (pts[k + 1] - pts[k])
    up, fwd, left = head_axes(motion, mapping)
    R_head = motion.rotations[mapping["head_frame"]]
    if isinstance(mapping["head"], tuple):  # a head joint and the head top's height above it
        joint, above_m = mapping["head"]
        top = P[joint] + R_head @ (above_m * up)
    else:
        top = get("head")
    L = np.median(np.linalg.norm(top - get("thorax"), axis=-1))

    def on_head(u, f, l):
        return top + R_head @ (L * (u * up + f * fwd + l * left))

    joints = {"pelvis": pelvis, "spine": spine, "neck_nose": on_head(*NECK_NOSE), "head": top}
    out = [joints[n] if n in joints else get(n) for n in JOINTS]
    # the pelvis' own frame from points (rig rotations need not mean the same on every rig)
    left_p = unit(get("left_hip") - get("right_hip"))
    up_p = get("thorax") - pelvis
    up_p = unit(up_p - left_p * (up_p * left_p).sum(-1, keepdims=True))
    coco = []
    for n in COCO_JOINTS:
        if n in FACE:
            coco.append(on_head(*FACE[n]))
        elif n.endswith("_hip"):
            side = 1.0 if n.startswith("left") else -1.0
            u, l = COCO_HIP_OFFSET_M
            coco.append(get(n) + u * up_p + side * l * left_p)
        else:
            coco.append(get(n))
    return np.stack(out + coco, axis=1).astype(np.float32)
