"""One person's 3D joints -> Unity humanoid bones for the VMC protocol.

Rotations come from the BVH export's solve (app.bvh.solve_motion): every rotation is
relative to the same T-pose rest (subject facing the camera, arms out sideways, legs
down), which is what VMC receivers expect: a bone at its T-pose has the identity
rotation.

Coordinates: VMC speaks Unity's convention, left-handed, Y up, metres, an avatar in
T-pose facing +Z with its left hand towards -X. The BVH rest is right-handed, Y up,
facing +Z with the subject's left towards +X, so going to Unity mirrors X:
position (x, y, z) -> (-x, y, z), quaternion (x, y, z, w) -> (x, -y, -z, w).
"""
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from lifter.skeleton import JOINTS, PARENTS

from .bvh import solve_motion

# Unity humanoid bone, its Unity parent, the BVH node whose rotation it takes, the joint
# at its head. The lifter has one joint between pelvis and thorax, so Spine bends and
# Chest follows it (identity); zero-length BVH branch nodes ("thorax_to_left_shoulder")
# aim neck and clavicles, which carries the shoulder line's twist. The thorax body frame
# is not used: its up axis aims at Human3.6M's neck/nose joint, which sits in front of
# the neck, and would lean the whole chest forward.
HUMANOID = (
    ("Hips", None, "pelvis", "pelvis"),
    ("Spine", "Hips", "spine", "spine"),
    ("Chest", "Spine", "spine", "thorax"),
    ("Neck", "Chest", "thorax_to_neck_nose", "thorax"),
    ("Head", "Neck", "neck_nose", "neck_nose"),
    ("LeftShoulder", "Chest", "thorax_to_left_shoulder", "thorax"),
    ("LeftUpperArm", "LeftShoulder", "left_shoulder", "left_shoulder"),
    ("LeftLowerArm", "LeftUpperArm", "left_elbow", "left_elbow"),
    ("LeftHand", "LeftLowerArm", "left_wrist", "left_wrist"),
    ("RightShoulder", "Chest", "thorax_to_right_shoulder", "thorax"),
    ("RightUpperArm", "RightShoulder", "right_shoulder", "right_shoulder"),
    ("RightLowerArm", "RightUpperArm", "right_elbow", "right_elbow"),
    ("RightHand", "RightLowerArm", "right_wrist", "right_wrist"),
    ("LeftUpperLeg", "Hips", "left_hip", "left_hip"),
    ("LeftLowerLeg", "LeftUpperLeg", "left_knee", "left_knee"),
    ("LeftFoot", "LeftLowerLeg", "left_ankle", "left_ankle"),
    ("RightUpperLeg", "Hips", "right_hip", "right_hip"),
    ("RightLowerLeg", "RightUpperLeg", "right_knee", "right_knee"),
    ("RightFoot", "RightLowerLeg", "right_ankle", "right_ankle"),
)
BONE_NAMES = tuple(b[0] for b in HUMANOID)
MIRROR_X = np.diag([-1.0, 1.0, 1.0])  # BVH rest frame (right-handed) <-> Unity (left-handed)


@dataclass
class HumanoidPose:
    """One frame of Unity humanoid bones (left-handed, Y up, metres)."""
    names: tuple                 # Unity HumanBodyBones names, HUMANOID order
    local_position_m: np.ndarray  # (B, 3) head offset from the parent bone's head, in its rest frame
    local_rotation_xyzw: np.ndarray  # (B, 4) rotation relative to the parent, identity at T-pose
    hips_m: np.ndarray           # (3,) pelvis position, Unity axes, from the camera-frame root
    hips_height_m: float         # pelvis above the lower ankle in the T-pose (legs straight down)


def to_unity_position(p_m):
    """(..., 3) BVH rest-frame vectors -> Unity (mirror X)."""
    return np.asarray(p_m, np.float64) @ MIRROR_X


def to_unity_rotation(r):
    """(..., 3, 3) rotation matrices in the BVH rest frame -> Unity (x, y, z, w) quaternions."""
    mirrored = MIRROR_X @ np.asarray(r, np.float64) @ MIRROR_X
    return Rotation.from_matrix(mirrored.reshape(-1, 3, 3)).as_quat().reshape(mirrored.shape[:-2] + (4,))


def humanoid_pose(joints_cam_m):
    """(17, 3) absolute camera-frame joints (metres, x right, y down, z forward) ->
    HumanoidPose. Raises ValueError when a joint is not finite."""
    joints = np.asarray(joints_cam_m, np.float64)
    if joints.shape != (len(JOINTS), 3) or not np.isfinite(joints).all():
        raise ValueError("VMC stream: the skeleton needs 17 finite 3D joints")
    offsets, nodes, root, local, _ = solve_motion(joints[None])
    index = {node["name"]: n for n, node in enumerate(nodes)}
    glob = np.zeros((len(nodes), 3, 3))
    for n, node in enumerate(nodes):  # depth first: a parent comes before its children
        glob[n] = local[0, n] if node["parent"] < 0 else glob[node["parent"]] @ local[0, n]
    rest_head = np.zeros((len(JOINTS), 3))  # T-pose joint positions from the rest offsets
    for j, p in enumerate(PARENTS):
        if p >= 0:
            rest_head[j] = rest_head[p] + offsets[j]
    bones = {b[0]: b for b in HUMANOID}
    rotations, positions = [], []
    for name, parent, node, head in HUMANOID:
        g = glob[index[node]]
        if parent is None:
            rotations.append(g)
            positions.append(np.zeros(3))
            continue
        _, _, parent_node, parent_head = bones[parent]
        rotations.append(glob[index[parent_node]].T @ g)
        positions.append(rest_head[JOINTS.index(head)] - rest_head[JOINTS.index(parent_head)])
    return HumanoidPose(BONE_NAMES, to_unity_position(np.array(positions)),
                        to_unity_rotation(np.array(rotations)), to_unity_position(root[0]),
                        float(-rest_head[:, 1].min()))
