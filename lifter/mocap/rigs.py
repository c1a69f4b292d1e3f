"""Mapping tables, one per mocap rig: which point of the rig plays each role of the
17-joint skeleton (bone ends for ASF, joint origins for BVH), as data.

Roles: the 14 limb and hip joints by their output names; "thorax" (neck base); "head"
(head top: a point name, or (joint, metres above it along the head's up axis) when the rig
has no head-top end site); "head_frame" (the joint whose rotation the face follows);
"chain" (mocap root up to the thorax, along which the spine is placed); "rest_upright"
(False when the rig's zero-rotation pose is no standing pose, so the head's axes are
calibrated on the take instead of read off the rest pose); "unit_m" (metres per file unit);
"figure" (the one figure whose bone lengths every take of the rig has, or None when the
lengths are the captured subject's).
The rigs' own bone lengths are one body each (Daz figure, iClone CC3 dummy): they give
motion, not body size (lifter/mocap/bodies.py gives the sizes).
"""
from .motion import CMU_UNIT_M

ASF = {  # CMU and HDM05 ASF/AMC
    "right_hip": "rhipjoint", "right_knee": "rfemur", "right_ankle": "rtibia",
    "left_hip": "lhipjoint", "left_knee": "lfemur", "left_ankle": "ltibia",
    "thorax": "lowerneck", "head": "head", "head_frame": "head",
    "left_shoulder": "lclavicle", "left_elbow": "lhumerus", "left_wrist": "lradius",
    "right_shoulder": "rclavicle", "right_elbow": "rhumerus", "right_wrist": "rradius",
    "chain": ("root", "lowerback", "upperback", "thorax", "lowerneck"),
    "rest_upright": True, "unit_m": CMU_UNIT_M, "figure": None,
}
CMU_BVH = {  # the common CMU BVH conversion (no thorax bone; see cmu-bvh README)
    "right_hip": "RightUpLeg", "right_knee": "RightLeg", "right_ankle": "RightFoot",
    "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot",
    "thorax": "Neck", "head": "Head_end", "head_frame": "Head",
    "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm", "left_wrist": "LeftHand",
    "right_shoulder": "RightArm", "right_elbow": "RightForeArm", "right_wrist": "RightHand",
    "chain": ("Hips", "LowerBack", "Spine", "Spine1", "Neck"),
    "rest_upright": True, "unit_m": CMU_UNIT_M, "figure": None,
}
DAZ = {  # cmu-daz-bvh: centimetres, T-pose rest facing +Z; the head has only eye children
    "right_hip": "rThigh", "right_knee": "rShin", "right_ankle": "rFoot",
    "left_hip": "lThigh", "left_knee": "lShin", "left_ankle": "lFoot",
    "thorax": "neck", "head": ("head", 0.19), "head_frame": "head",
    "left_shoulder": "lShldr", "left_elbow": "lForeArm", "left_wrist": "lHand",
    "right_shoulder": "rShldr", "right_elbow": "rForeArm", "right_wrist": "rHand",
    "chain": ("hip", "abdomen", "chest", "neck"),
    "rest_upright": True, "unit_m": 0.01, "figure": "daz",
}
ICLONE = {  # cmu-iclone-bvh: centimetres; bones point along their local Y at zero rotation
    "right_hip": "CC_Base_R_Thigh", "right_knee": "CC_Base_R_Calf", "right_ankle": "CC_Base_R_Foot",
    "left_hip": "CC_Base_L_Thigh", "left_knee": "CC_Base_L_Calf", "left_ankle": "CC_Base_L_Foot",
    "thorax": "CC_Base_NeckTwist01", "head": ("CC_Base_Head", 0.17), "head_frame": "CC_Base_Head",
    "left_shoulder": "CC_Base_L_Upperarm", "left_elbow": "CC_Base_L_Forearm", "left_wrist": "CC_Base_L_Hand",
    "right_shoulder": "CC_Base_R_Upperarm", "right_elbow": "CC_Base_R_Forearm", "right_wrist": "CC_Base_R_Hand",
    "chain": ("CC_Base_Hip", "CC_Base_Waist", "CC_Base_Spine01", "CC_Base_Spine02", "CC_Base_NeckTwist01"),
    "rest_upright": False, "unit_m": 0.01, "figure": "iclone",
}
# A BVH file's rig, told by its root joint's name.
BVH_RIGS = {"Hips": CMU_BVH, "hip": DAZ, "CC_Base_Hip": ICLONE}


def point_names(mapping):
    """Every rig point a mapping reads."""
    names = set(mapping["chain"])
    for role, value in mapping.items():
        if role in ("chain", "rest_upright", "unit_m", "figure"):
            continue
        names.add(value[0] if isinstance(value, tuple) else value)
    return names
