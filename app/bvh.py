"""BVH export of one person's 3D joints: Y-up, METRES (Blender's unit, so the armature
imports at real size with the default scale 1.0), at a fixed frame rate: recorded
frames (live runs drop some) are first resampled onto a uniform clock from their
capture times (resample_uniform), so playback runs at the speed of the source.

Hierarchy: the lifter's 17 joints (lifter.skeleton), pelvis as ROOT with 6 channels,
every other node 3 rotation channels (Zrotation Xrotation Yrotation, i.e. R = Rz Rx Ry),
End Sites after the five leaf joints. Bone offsets are the median bone lengths along a
T-pose facing +Z with the subject's left at +X.

Rotations are solved per frame so that forward kinematics puts every bone along its
observed direction (bone lengths are the medians, so FK reproduces the joints exactly
when the lengths are constant, which the lifter's output nearly is):
* a joint with one child gets the smallest rotation (swing) that turns its bone from the
  parent's frame onto the observed direction, so twist is inherited, never invented;
* pelvis and thorax, which have three children, get a body frame from two directions
  (up = towards spine / neck, across = right-to-left hip / shoulder). One rotation cannot
  aim three bones whose angles change from frame to frame, so each child hangs from a
  zero-length "<joint>_to_<child>" node whose small swing aims that bone exactly.
"""
import numpy as np
from scipy.spatial.transform import Rotation

from lifter.skeleton import JOINTS, PARENTS

# Our camera frame (x right, y down, z forward) to Y-up: 180 degrees about x. A subject
# facing the camera then faces +Z with their left at +X, BVH's usual convention.
CAMERA_TO_YUP = np.diag([1.0, -1.0, -1.0])

_UP, _DOWN, _LEFT, _RIGHT = (0, 1, 0), (0, -1, 0), (1, 0, 0), (-1, 0, 0)
REST_DIRECTION = np.array([
    (0, 0, 0), _RIGHT, _DOWN, _DOWN,   # pelvis, right_hip, right_knee, right_ankle
    _LEFT, _DOWN, _DOWN,               # left_hip, left_knee, left_ankle
    _UP, _UP, _UP, _UP,                # spine, thorax, neck_nose, head
    _LEFT, _LEFT, _LEFT,               # left_shoulder, left_elbow, left_wrist
    _RIGHT, _RIGHT, _RIGHT,            # right_shoulder, right_elbow, right_wrist
], dtype=np.float64)
# joint -> (left child, right child, up child) defining its body frame
BODY_FRAME = {0: (4, 1, 7), 8: (11, 14, 9)}
END_SITE_M = 0.05  # leaves carry a short stub along their bone so Blender has a tail
CHILDREN = {j: [c for c, p in enumerate(PARENTS) if p == j] for j in range(len(JOINTS))}


def _nodes(offsets_m):
    """Depth-first BVH nodes: dicts with name, parent (node index), joint, child, offset."""
    nodes = []

    def add(j, parent, offset):
        me = len(nodes)
        nodes.append({"name": JOINTS[j], "parent": parent, "joint": j, "offset": offset})
        kids = CHILDREN[j]
        for c in kids:
            if len(kids) > 1:
                branch = len(nodes)
                nodes.append({"name": f"{JOINTS[j]}_to_{JOINTS[c]}", "parent": me, "joint": None,
                              "child": c, "offset": np.zeros(3)})
                add(c, branch, offsets_m[c])
            else:
                add(c, me, offsets_m[c])
    add(0, -1, np.zeros(3))
    return nodes


def _unit(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _swing(a, b):
    """(F, 3, 3) smallest rotations turning unit vectors a (F, 3) onto b (F, 3)."""
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    cos = (a * b).sum(-1)
    angle = np.arctan2(sin, cos)
    # antiparallel: any axis perpendicular to a will do
    perp = np.cross(a, np.where(np.abs(a[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]]))
    axis = np.where((sin < 1e-9)[:, None] & (cos < 0)[:, None], perp, axis)
    return Rotation.from_rotvec(_unit(axis) * angle[:, None]).as_matrix()


def _body_frame(X, j):
    left, right, up = BODY_FRAME[j]
    y = _unit(X[:, up] - X[:, j])
    x = X[:, left] - X[:, right]
    x = _unit(x - (x * y).sum(-1, keepdims=True) * y)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)  # columns: rest +X, +Y, +Z mapped to observed


def fill_gaps(joints_m):
    """(F, 17, 3) with NaN frames -> nearest valid frame's pose (hold, then back-fill)."""
    ok = np.isfinite(joints_m).all(axis=(1, 2))
    if not ok.any():
        raise ValueError("BVH export: no frame has a complete 3D skeleton")
    idx = np.where(ok, np.arange(len(ok)), -1)
    idx = np.maximum.accumulate(idx)
    idx[idx < 0] = np.argmax(ok)
    return joints_m[idx]


def resample_uniform(joints_m, time_s, rate_hz, max_gap_s):
    """(F, 17, 3) joints captured at time_s (F,) (NaN frames = not seen) -> (K, 17, 3) on
    the uniform clock t0 + k / rate_hz spanning the first to the last seen frame. Between
    two seen frames at most max_gap_s apart the joints are interpolated (bone directions
    linearly, then each bone set to its interpolated length, so limbs do not shrink
    mid-swing); across a longer gap the earlier pose is held until the later one is due."""
    if not rate_hz > 0:
        raise ValueError(f"BVH export: frame rate {rate_hz} is not positive")
    seen = np.isfinite(joints_m).all(axis=(1, 2)) & np.isfinite(time_s)
    if not seen.any():
        raise ValueError("BVH export: no frame has a complete 3D skeleton")
    order = np.argsort(time_s[seen], kind="stable")
    t, X = np.asarray(time_s, np.float64)[seen][order], np.asarray(joints_m, np.float64)[seen][order]
    grid = t[0] + np.arange(int(np.floor((t[-1] - t[0]) * rate_hz + 0.5)) + 1) / rate_hz
    lo = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(t) - 1)
    hi = np.minimum(lo + 1, len(t) - 1)
    span = t[hi] - t[lo]
    w = np.clip((grid - t[lo]) / np.where(span > 0, span, 1.0), 0.0, 1.0)
    hold = span > max_gap_s  # long gap: no invented motion, the later pose when it is due
    w = np.where(hold, (grid >= t[hi] - 0.5 / rate_hz).astype(np.float64), w)[:, None, None]
    blend = X[lo] + w * (X[hi] - X[lo])
    out = blend.copy()
    for c, p in enumerate(PARENTS):  # parents come before children
        if p >= 0:
            length = (1 - w[:, 0]) * np.linalg.norm(X[lo, c] - X[lo, p], axis=-1, keepdims=True) \
                + w[:, 0] * np.linalg.norm(X[hi, c] - X[hi, p], axis=-1, keepdims=True)
            out[:, c] = out[:, p] + _unit(blend[:, c] - blend[:, p]) * length
    return out


def solve_motion(joints_cam_m):
    """Camera-frame joints (F, 17, 3) absolute metres, NaN frames allowed -> (offsets
    (17, 3) Y-up rest offsets, nodes, root_yup (F, 3), local rotations (F, nodes, 3, 3),
    per-frame bone lengths (F, 17))."""
    observed = np.asarray(joints_cam_m, dtype=np.float64) @ CAMERA_TO_YUP.T
    X = fill_gaps(observed)
    # medians over the frames actually observed, not over the held copies filling gaps
    lengths = np.array([0.0] + [np.nanmedian(np.linalg.norm(observed[:, c] - observed[:, p], axis=-1))
                                for c, p in enumerate(PARENTS) if p >= 0])
    F = len(X)
    offsets = REST_DIRECTION * lengths[:, None]
    nodes = _nodes(offsets)
    G = np.zeros((len(nodes), F, 3, 3))
    for n, node in enumerate(nodes):
        parent_G = G[node["parent"]] if node["parent"] >= 0 else np.broadcast_to(np.eye(3), (F, 3, 3))
        j = node["joint"]
        if j is None:   # branch node: aim the one bone below it
            c = node["child"]
            aim = (X[:, c] - X[:, nodes[node["parent"]]["joint"]], parent_G @ REST_DIRECTION[c])
        elif j in BODY_FRAME:
            G[n] = _body_frame(X, j)
            continue
        elif len(CHILDREN[j]) == 1:
            c = CHILDREN[j][0]
            aim = (X[:, c] - X[:, j], parent_G @ REST_DIRECTION[c])
        else:           # leaf: keep the parent's frame
            G[n] = parent_G
            continue
        G[n] = _swing(aim[1], _unit(aim[0])) @ parent_G
    local = np.stack([(G[node["parent"]].transpose(0, 2, 1) @ G[n]) if node["parent"] >= 0 else G[n]
                      for n, node in enumerate(nodes)], axis=1)
    per_frame = np.zeros((F, len(PARENTS)))
    for c, p in enumerate(PARENTS):
        if p >= 0:
            per_frame[:, c] = np.linalg.norm(X[:, c] - X[:, p], axis=-1)
    return offsets, nodes, X[:, 0], local, per_frame


BONE_LENGTHS = ("median", "per-frame")


def write_bvh(path, joints_cam_m, fps, bone_lengths="median"):
    """Write (F, 17, 3) camera-frame absolute joints (metres; NaN frames are held from
    the nearest valid one) as a BVH file. Returns the number of frames.

    bone_lengths "median": the standard rotation-only BVH; FK gives every bone its
    observed direction at its median length. "per-frame": every joint also carries
    position channels holding that frame's bone length along the rest direction, so FK
    reproduces the joints exactly even when the lifter's bone lengths wobble."""
    if fps <= 0:
        raise ValueError(f"BVH export: frame rate {fps} is not positive")
    if bone_lengths not in BONE_LENGTHS:
        raise ValueError(f"BVH export: bone lengths {bone_lengths!r}, expected one of {', '.join(BONE_LENGTHS)}")
    offsets, nodes, root, local, per_frame = solve_motion(joints_cam_m)
    # nodes whose per-frame offset is written as position channels
    moving = [n for n, node in enumerate(nodes) if bone_lengths == "per-frame" and n > 0
              and node["joint"] is not None]
    F = len(root)
    euler = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_euler("ZXY", degrees=True).reshape(F, len(nodes), 3)
    lines = ["HIERARCHY"]

    def emit(n, depth):
        node, pad = nodes[n], "  " * depth
        o = node["offset"]
        lines.append(f"{pad}{'ROOT' if n == 0 else 'JOINT'} {node['name']}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {o[0]:.6f} {o[1]:.6f} {o[2]:.6f}")
        lines.append(f"{pad}  CHANNELS " + ("6 Xposition Yposition Zposition " if n == 0 or n in moving else "3 ")
                     + "Zrotation Xrotation Yrotation")
        kids = [k for k, other in enumerate(nodes) if other["parent"] == n]
        for k in kids:
            emit(k, depth + 1)
        if not kids:
            e = REST_DIRECTION[node["joint"]] * END_SITE_M
            lines.extend([f"{pad}  End Site", pad + "  {",
                          f"{pad}    OFFSET {e[0]:.6f} {e[1]:.6f} {e[2]:.6f}", pad + "  }"])
        lines.append(pad + "}")
    emit(0, 0)
    lines += ["MOTION", f"Frames: {F}", f"Frame Time: {1.0 / fps:.6f}"]
    for f in range(F):
        values = list(root[f])
        for n, node in enumerate(nodes):
            if n in moving:
                values += list(REST_DIRECTION[node["joint"]] * per_frame[f, node["joint"]])
            values += list(euler[f, n])
        lines.append(" ".join(f"{v:.6f}" for v in values))
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return F
