"""Training targets that mean what Human3.6M means: the 17 raw joints of any rig rebuilt
with Human3.6M's proportions and joint placements, keeping the motion's bone directions
and the body's own size.

Facts (medians on Human3.6M's training subjects S1 S5 S6 S7 S8, mm; body frame: right =
left hip -> right hip, up = pelvis -> thorax made orthogonal to right, forward = up x
right, where the face points). Lateral components of midline joints (14-28 mm, one side
only) are left out: training mirrors every other sample, so they would average away.
Offsets that are fixed vectors point along the measured placement with the measured
median bone length.
"""
import numpy as np

from ..skeleton import JOINTS, PARENTS
from .points import POINT_PARENTS, unit

# joint: (anchor joint, placement (right, up, forward) mm from the anchor, or None for a
# limb bone whose direction comes from the motion, length mm)
TEMPLATE_MM = {
    "right_hip": ("pelvis", (135, 0, 0), 135),
    "left_hip": ("pelvis", (-135, 0, 0), 135),
    "spine": ("pelvis", (0, 238, -31), 241),
    "thorax": ("pelvis", (0, 487, 0), 487),
    "neck_nose": ("thorax", (0, 71, 84), 117),
    "head": ("neck_nose", (0, 97, -44), 115),
    "left_shoulder": ("thorax", (-140, -48, -10), 151),
    "right_shoulder": ("thorax", (140, -48, -10), 151),
    "right_knee": ("right_hip", None, 452), "left_knee": ("left_hip", None, 452),
    "right_ankle": ("right_knee", None, 447), "left_ankle": ("left_knee", None, 447),
    "left_elbow": ("left_shoulder", None, 282), "right_elbow": ("right_shoulder", None, 282),
    "left_wrist": ("left_elbow", None, 250), "right_wrist": ("right_elbow", None, 250),
}
HEAD_TOP_ABOVE_ANKLES_MM = 1479  # standing frames dominate the median
_J = {n: i for i, n in enumerate(JOINTS)}
_ORDER = [n for n in JOINTS if n != "pelvis"]  # every anchor precedes its joints
_PLACED = [n for n in _ORDER if TEMPLATE_MM[n][1] is not None]


def body_frame(joints):
    """(F, 17, 3) joints -> (F, 3, 3) rows right, up, forward (unit, orthogonal)."""
    right = unit(joints[:, _J["right_hip"]] - joints[:, _J["left_hip"]])
    up = joints[:, _J["thorax"]] - joints[:, _J["pelvis"]]
    up = unit(up - right * (up * right).sum(-1, keepdims=True))
    return np.stack([right, up, np.cross(up, right)], axis=1)


def local_offsets(joints):
    """(F, 17, 3) joints -> {joint: (F, 3) body-frame offset from its anchor} for the
    placed (non-limb) joints."""
    B = body_frame(joints)
    return {n: np.einsum("fij,fj->fi", B, joints[:, _J[n]] - joints[:, _J[TEMPLATE_MM[n][0]]]) for n in _PLACED}


def reference_directions(joints):
    """The typical body-frame direction of each placed joint from its anchor on one body
    (a subject, or a rig's figure): {joint: (3,) unit}. joints: (F, 17, 3) raw."""
    return {n: unit(np.median(unit(d), axis=0)) for n, d in local_offsets(joints).items()}


def _turn(a, b, v):
    """Rotate v (3,) by the smallest rotation taking unit a (F, 3) to unit b (F, 3) -> (F, 3)."""
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=-1, keepdims=True)
    c = (a * b).sum(-1, keepdims=True)
    k = axis / np.maximum(s, 1e-12)
    return v * c + np.cross(k, v) * s + k * (k @ v)[:, None] * (1 - c)


def to_h36m(points, reference, body=None):
    """Raw points (F, P, 3), P >= 17 (17 joints then markers hanging from them, see
    lifter.mocap.points.POINT_PARENTS) -> the same with the 17 joints in Human3.6M's definitions.

    reference: reference_directions of this body; body: (17,) length factor per joint
    (its bone to its anchor, relative to Human3.6M's; None = 1). Markers move with the
    joint they hang from; the pelvis stays where it is.
    """
    pts = np.asarray(points, np.float64)
    raw = pts[:, :len(JOINTS)]
    body = np.ones(len(JOINTS)) if body is None else np.asarray(body, np.float64)
    B = body_frame(raw)
    cur = local_offsets(raw)
    new = {"pelvis": raw[:, 0]}
    for n in _ORDER:
        anchor, place, length = TEMPLATE_MM[n]
        scale = length / 1000 * body[_J[n]]
        if place is None:
            d = unit(raw[:, _J[n]] - raw[:, _J[anchor]]) * scale
        else:
            local = _turn(np.broadcast_to(reference[n], cur[n].shape), unit(cur[n]), unit(np.array(place, float)))
            d = np.einsum("fji,fj->fi", B, local) * scale
        new[n] = new[anchor] + d
    out = pts.copy()
    out[:, :len(JOINTS)] = np.stack([new[n] for n in JOINTS], axis=1)
    moved = out[:, :len(JOINTS)] - raw
    for i in range(len(JOINTS), pts.shape[1]):
        out[:, i] += moved[:, POINT_PARENTS[i]]
    return out.astype(np.float32)


def bone_lengths_mm(joints):
    """(F, 17, 3) metres -> (F, 16) bone lengths in mm, bone i = joint i+1 to its parent."""
    return 1000 * np.linalg.norm(joints[:, 1:] - joints[:, list(PARENTS[1:])], axis=-1)
