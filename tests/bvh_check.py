"""Test helpers: forward kinematics of a BVH file through bvhio (an independent reader),
and synthetic motion."""
import bvhio
import numpy as np

from lifter.skeleton import JOINTS, PARENTS

YUP_TO_CAMERA = np.diag([1.0, -1.0, -1.0])  # its own inverse


def bvh_joint_positions(path):
    """(F, 17, 3) camera-frame joint positions (metres) by bvhio's forward kinematics."""
    root = bvhio.readAsHierarchy(str(path))
    by_name = {joint.Name: joint for joint, _, _ in root.layout()}
    frames = len(root.Keyframes)
    out = np.zeros((frames, len(JOINTS), 3))
    for f in range(frames):
        root.loadPose(f)
        out[f] = np.array([list(by_name[n].PositionWorld) for n in JOINTS]) @ YUP_TO_CAMERA
    return out


def retarget(joints_m):
    """(F, 17, 3) -> the same bone directions with each bone at its median length: what a
    fixed-offset skeleton can reproduce exactly. Independent of app.bvh."""
    lengths = {c: np.median(np.linalg.norm(joints_m[:, c] - joints_m[:, p], axis=-1))
               for c, p in enumerate(PARENTS) if p >= 0}
    out = joints_m.copy()
    for c, p in enumerate(PARENTS):  # parents come before children in the table
        if p >= 0:
            d = joints_m[:, c] - joints_m[:, p]
            out[:, c] = out[:, p] + lengths[c] * d / np.linalg.norm(d, axis=-1, keepdims=True)
    return out


def random_motion(frames, rng, length_noise_m=0.0):
    """Smoothly wandering bone directions, camera frame, person ~4 m in front."""
    lengths = rng.uniform(0.08, 0.45, len(JOINTS))
    X = np.zeros((frames, len(JOINTS), 3))
    X[:, 0] = [0.3, 0.2, 4.0] + np.cumsum(rng.normal(0, 0.02, (frames, 3)), axis=0)
    d = rng.normal(size=(len(JOINTS), 3))
    for f in range(frames):
        d = d + rng.normal(0, 0.3, d.shape)
        for c, p in enumerate(PARENTS):
            if p >= 0:
                length = lengths[c] + rng.normal(0, length_noise_m)
                X[f, c] = X[f, p] + length * d[c] / np.linalg.norm(d[c])
    return X
