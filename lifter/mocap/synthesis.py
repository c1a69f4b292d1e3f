"""Poses the captures lack, made from the motion they have. Every function takes and
returns (N, 34, 3) pelvis-relative points (17 joints, then 17 COCO markers hanging from
them, lifter/mocap/points.py), Y up, metres, and keeps bone lengths.

- recombine: the lower body of one frame with the upper body of another, joined at the
  pelvis (the upper body turned about the vertical onto the lower body's hip axis, so the
  trunk keeps its own lean against gravity);
- reach: an arm bent so the wrist reaches a target (hand at the face, hand at table
  height), the elbow placed by two-bone inverse kinematics;
- perturb_bones: PoseAug-style small random turns of the limb bones;
- retarget: the same joint rotations (bone directions) on another body's bone lengths.
Poses outside lifter/mocap/joint_limits.py's table are not produced: callers keep the
original where `within_limits` says no.
"""
import numpy as np

from ..skeleton import JOINTS
from .h36m_targets import body_frame
from .points import POINT_PARENTS, unit

_J = {n: i for i, n in enumerate(JOINTS)}
COCO = len(JOINTS)
# points of the lower body: hips, knees, ankles and their COCO markers (COCO 11..16)
LOWER = np.array([_J[f"{s}_{j}"] for s in ("right", "left") for j in ("hip", "knee", "ankle")]
                 + [COCO + i for i in range(11, 17)])
UPPER = np.array([i for i in range(1, COCO + 17) if i not in set(LOWER.tolist())])
LIMB_BONES = tuple(f"{s}_{j}" for s in ("left", "right") for j in ("knee", "ankle", "elbow", "wrist"))


def descendants(parents=POINT_PARENTS):
    """{point: array of itself and every point below it}."""
    kids = {i: [c for c, p in enumerate(parents) if p == i and c != i] for i in range(len(parents))}

    def walk(i):
        return [i] + [d for c in kids[i] for d in walk(c)]
    return {i: np.array(walk(i)) for i in range(len(parents))}


DESC = descendants()


def rotation_about(axis, angle):
    """Rodrigues: axis (N, 3) unit, angle (N,) rad -> (N, 3, 3)."""
    K = np.zeros((len(axis), 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    K = K - K.transpose(0, 2, 1)
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3) + s * K + (1 - c) * K @ K


def turn_subtree(points, joint, pivot, R):
    """Rotate `joint` and everything below it by R (N, 3, 3) about `pivot` (N, 3), in place."""
    idx = DESC[joint]
    points[:, idx] = np.einsum("nij,nkj->nki", R, points[:, idx] - pivot[:, None]) + pivot[:, None]


def _heading(points):
    """(N,) angle of the horizontal right-hip direction about +Y."""
    r = points[:, _J["right_hip"]] - points[:, _J["left_hip"]]
    return np.arctan2(r[:, 0], r[:, 2])


def recombine(legs, upper):
    """Lower body of `legs` (N, 34, 3) + upper body of `upper` (N, 34, 3) -> (N, 34, 3)."""
    turn = _heading(legs) - _heading(upper)
    R = rotation_about(np.tile([0.0, 1.0, 0.0], (len(legs), 1)), turn)
    out = np.einsum("nij,nkj->nki", R, upper - upper[:, :1])
    out[:, LOWER] = legs[:, LOWER] - legs[:, :1]
    out[:, 0] = 0
    return out


def two_bone_elbow(shoulder, target, upper_m, fore_m, bend_dir):
    """Elbow (N, 3) for a wrist at `target`; the wrist is pulled in so the elbow bends
    between 20 and 150 degrees of flexion. bend_dir (N, 3): where the elbow points."""
    d_vec = target - shoulder
    lo = np.sqrt(upper_m ** 2 + fore_m ** 2 - 2 * upper_m * fore_m * np.cos(np.radians(30)))
    hi = np.sqrt(upper_m ** 2 + fore_m ** 2 - 2 * upper_m * fore_m * np.cos(np.radians(160)))
    d = np.clip(np.linalg.norm(d_vec, axis=-1), lo, hi)
    u = unit(d_vec)
    x = (upper_m ** 2 - fore_m ** 2 + d ** 2) / (2 * d)
    r = np.sqrt(np.maximum(upper_m ** 2 - x ** 2, 0))
    w = unit(bend_dir - u * (bend_dir * u).sum(-1, keepdims=True))
    return shoulder + x[:, None] * u + r[:, None] * w, shoulder + d[:, None] * u


def reach(points, side, where, rng):
    """Bend the `side` arm so the wrist reaches the face ("face": in front of the nose:
    phone, drinking, camera) or a table ("table": 0-30 cm above the pelvis, 25-45 cm ahead:
    eating, paying). Returns new (N, 34, 3)."""
    p = points.copy()
    n = len(p)
    B = body_frame(p[:, :COCO])  # rows right, up, forward
    right, up, fwd = B[:, 0], B[:, 1], B[:, 2]
    out = -1.0 if side == "left" else 1.0  # towards this side
    s, e, w = (_J[f"{side}_{j}"] for j in ("shoulder", "elbow", "wrist"))
    if where == "face":
        base = p[:, _J["neck_nose"]]
        off = fwd * rng.uniform(0.04, 0.12, (n, 1)) + up * rng.uniform(-0.06, 0.02, (n, 1)) \
            + right * out * rng.uniform(0.0, 0.07, (n, 1))
    else:
        base = p[:, 0]
        off = up * rng.uniform(0.0, 0.30, (n, 1)) + fwd * rng.uniform(0.25, 0.45, (n, 1)) \
            + right * out * rng.uniform(0.05, 0.25, (n, 1))
    upper_m = np.linalg.norm(p[:, e] - p[:, s], axis=-1)
    fore_m = np.linalg.norm(p[:, w] - p[:, e], axis=-1)
    # the elbow hangs down and out, swung outwards by a random amount
    swing = np.radians(rng.uniform(0, 60, n))[:, None]
    bend = -up * np.cos(swing) + right * out * np.sin(swing)
    elbow, wrist = two_bone_elbow(p[:, s], base + off, upper_m, fore_m, bend)
    move_e, move_w = elbow - p[:, e], wrist - p[:, w]
    p[:, DESC[e]] += move_e[:, None]
    p[:, DESC[w]] += (move_w - move_e)[:, None]
    return p


def perturb_bones(points, rng, sd_deg=8.0):
    """PoseAug-style bone-angle perturbation: each limb bone (thigh, shin, upper arm,
    forearm) turned about its parent joint by a random axis and N(0, sd) angle (clipped at
    2.5 sd); children follow."""
    p = points.copy()
    n = len(p)
    for name in LIMB_BONES:
        j = _J[name]
        axis = unit(rng.normal(size=(n, 3)))
        ang = np.radians(np.clip(rng.normal(0, sd_deg, n), -2.5 * sd_deg, 2.5 * sd_deg))
        turn_subtree(p, j, p[:, POINT_PARENTS[j]], rotation_about(axis, ang))
    return p


def retarget(points, factor):
    """Every bone (child point to its parent) scaled by factor (N, 34) of its child point:
    bone directions, so joint rotations, stay those of the source motion."""
    offsets = points - points[:, [max(q, 0) for q in POINT_PARENTS]]
    out = np.zeros_like(points)
    for i in sorted(range(len(POINT_PARENTS)), key=lambda k: -len(DESC[k])):  # parents first
        q = POINT_PARENTS[i]
        out[:, i] = (out[:, q] if q >= 0 else 0) + offsets[:, i] * factor[:, i:i + 1]
    return out
