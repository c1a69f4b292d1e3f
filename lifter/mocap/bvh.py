"""BVH by forward kinematics (plain or gzip text); checked against the independent `bvhio`
package in tests."""
import gzip
import os
import re

import numpy as np

from .motion import CMU_UNIT_M, MocapError, Motion, euler_matrices

def read_bvh(path, unit_m=CMU_UNIT_M, stride=1):
    """BVH (plain, or gzip when the name ends in .gz) -> Motion of every joint's origin
    (and end sites as '<joint>_end').

    unit_m: metres per BVH unit (CMU conversions use the ASF unit; pass 0.01 for cm).
    """
    path = str(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="latin-1") as f:
            text = f.read()
    except (OSError, EOFError) as e:
        raise MocapError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    head, sep, motion = text.partition("MOTION")
    if not sep or "ROOT" not in head:
        raise MocapError(f"{path}: not a BVH file (no HIERARCHY/ROOT or MOTION section)")
    joints, stack, last = [], [], None
    tokens = head.split()
    i = 0
    try:
        while i < len(tokens):
            t = tokens[i]
            if t in ("ROOT", "JOINT"):
                last = {"name": tokens[i + 1], "parent": stack[-1] if stack else None, "channels": []}
                joints.append(last)
                i += 2
            elif t == "End":
                last = {"name": f"{stack[-1]['name']}_end", "parent": stack[-1], "channels": []}
                joints.append(last)
                i += 2
            elif t == "{":
                stack.append(last)
                i += 1
            elif t == "}":
                stack.pop()
                i += 1
            elif t == "OFFSET":
                last["offset"] = np.array(tokens[i + 1:i + 4], float) * unit_m
                i += 4
            elif t == "CHANNELS":
                n = int(tokens[i + 1])
                last["channels"] = tokens[i + 2:i + 2 + n]
                i += 2 + n
            else:
                i += 1
    except (IndexError, ValueError, TypeError):  # TypeError: OFFSET/CHANNELS before any joint
        raise MocapError(f"{path}: malformed HIERARCHY near token {i}") from None
    for j in joints:  # what forward kinematics needs of every joint
        if "offset" not in j or not np.isfinite(j["offset"]).all():
            raise MocapError(f"{path}: joint '{j['name']}' has no valid OFFSET")
        if not all(len(c) == 9 and c[0].upper() in "XYZ" and c[1:].lower() in ("position", "rotation")
                   for c in j["channels"]):
            raise MocapError(f"{path}: joint '{j['name']}' has unknown channels {' '.join(j['channels'])[:60]}")
    m = re.search(r"Frames:\s*(\d+)\s*Frame Time:\s*([\d.eE+-]+)", motion)
    if not m:
        raise MocapError(f"{path}: MOTION section lacks 'Frames:' / 'Frame Time:'")
    try:
        n_frames, frame_time = int(m.group(1)), float(m.group(2))
    except ValueError:
        raise MocapError(f"{path}: unreadable 'Frame Time: {m.group(2)[:20]}'") from None
    if not 0 < frame_time < 60:
        raise MocapError(f"{path}: Frame Time {frame_time:g} s is not a plausible frame interval")
    n_channels = sum(len(j["channels"]) for j in joints)
    rows = motion[m.end():].split("\n")
    try:
        values = np.array([r.split() for r in rows if r.strip()], dtype=float)
    except ValueError:
        raise MocapError(f"{path}: motion rows are not all numeric with {n_channels} values") from None
    if values.ndim != 2 or values.shape[1] != n_channels or len(values) < n_frames:
        raise MocapError(f"{path}: expected {n_frames} frames x {n_channels} channels, "
                         f"found {values.shape if values.ndim == 2 else 'ragged rows'}")
    if not np.isfinite(values).all():
        raise MocapError(f"{path}: motion rows hold a non-finite value")
    values = values[:n_frames:stride]
    F = len(values)
    positions, rotations, rest = {}, {}, {}
    col = 0
    for j in joints:
        ch = j["channels"]
        v = values[:, col:col + len(ch)]
        col += len(ch)
        rot_axes = [c[0].upper() for c in ch if c.lower().endswith("rotation")]
        rot_vals = np.stack([v[:, k] for k, c in enumerate(ch) if c.lower().endswith("rotation")], -1) \
            if rot_axes else np.zeros((F, 0))
        # channels listed Z Y X mean R = Rz Ry Rx: the last listed rotation acts first
        local = euler_matrices(rot_vals[:, ::-1], "".join(rot_axes[::-1])) if rot_axes \
            else np.broadcast_to(np.eye(3), (F, 3, 3))
        pos_local = np.zeros((F, 3))
        for k, c in enumerate(ch):
            if c.lower().endswith("position"):
                pos_local[:, "XYZ".index(c[0].upper())] = v[:, k] * unit_m
        name, parent = j["name"], j["parent"]
        if parent is None:
            positions[name] = j["offset"] + pos_local
            rotations[name] = local
            rest[name] = j["offset"]
        else:
            p = parent["name"]
            positions[name] = positions[p] + rotations[p] @ j["offset"] + pos_local
            rotations[name] = rotations[p] @ local
            rest[name] = rest[p] + j["offset"]
    return Motion(positions, rotations, rest, 1.0 / frame_time / stride, os.path.basename(path).removesuffix(".gz"))
