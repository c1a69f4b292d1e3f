"""Joint limits as data, and the angles of a 17-joint pose they bound.

Ranges: passive ranges of motion of the adult joints in Kapandji, "The Physiology of the
Joints" (vol. 1 upper limb, vol. 2 lower limb): hip flexion 140 with the knee flexed
(120 active), extension 30, abduction 45; knee flexion 160 (140 active); shoulder
extension 50; elbow flexion 160 (145 active). The active values match the American
Academy of Orthopaedic Surgeons' table (Greene & Heckman, "The Clinical Measurement of
Joint Motion", AAOS 1994). Angles here are measured between the segments the 17 joints
give (no pelvis bone of its own: hip angles are the thigh against the trunk line), so each
range gets MARGIN_DEG either side for that difference of definition.
"""
import numpy as np

from ..skeleton import JOINTS
from .h36m_targets import body_frame
from .points import unit

MARGIN_DEG = 10.0
LIMITS_DEG = {  # angle: (min, max), degrees
    "hip_flexion": (-30.0, 140.0),        # + = thigh forward of the trunk line (sagittal)
    "hip_abduction": (-30.0, 45.0),       # + = thigh away from the midline
    "knee_flexion": (0.0, 160.0),
    "shoulder_extension": (-90.0, 50.0),  # + = upper arm behind the trunk's coronal plane
    "elbow_flexion": (0.0, 160.0),
}
_J = {n: i for i, n in enumerate(JOINTS)}


def _angle(a, b):
    return np.degrees(np.arccos(np.clip((unit(a) * unit(b)).sum(-1), -1, 1)))


def joint_angles(joints):
    """(N, 17, 3) joints -> {angle name: (N, 2) left, right}, degrees, in the table's conventions."""
    B = body_frame(joints)  # rows right, up, forward
    loc = np.einsum("nij,nkj->nki", B, joints - joints[:, :1])
    out = {k: [] for k in LIMITS_DEG}
    for side, sign in (("left", -1.0), ("right", 1.0)):
        thigh = loc[:, _J[f"{side}_knee"]] - loc[:, _J[f"{side}_hip"]]
        shin = loc[:, _J[f"{side}_ankle"]] - loc[:, _J[f"{side}_knee"]]
        arm = loc[:, _J[f"{side}_elbow"]] - loc[:, _J[f"{side}_shoulder"]]
        fore = loc[:, _J[f"{side}_wrist"]] - loc[:, _J[f"{side}_elbow"]]
        t = unit(thigh)
        out["hip_flexion"].append(np.degrees(np.arctan2(t[:, 2], -t[:, 1])))
        out["hip_abduction"].append(np.degrees(np.arcsin(np.clip(sign * t[:, 0], -1, 1))))
        out["knee_flexion"].append(_angle(thigh, shin))
        out["shoulder_extension"].append(np.degrees(np.arcsin(np.clip(-unit(arm)[:, 2], -1, 1))))
        out["elbow_flexion"].append(_angle(arm, fore))
    return {k: np.stack(v, -1) for k, v in out.items()}


def within_limits(joints, margin_deg=MARGIN_DEG):
    """(N, 17, 3) -> (N,) bool: every angle inside its range widened by margin_deg."""
    ok = np.ones(len(joints), bool)
    for name, a in joint_angles(joints).items():
        lo, hi = LIMITS_DEG[name]
        ok &= ((a >= lo - margin_deg) & (a <= hi + margin_deg)).all(-1)
    return ok
