"""Motion-capture readers: ASF/AMC (CMU, HDM05) and BVH, by forward kinematics.

Both give a `Motion`: world positions (F, 3) in metres, Y up, and global rotations
(F, 3, 3) per named point, where a rotation maps a direction of the rest pose to the
same direction in frame f. No maintained PyPI package does forward kinematics on
ASF/AMC; the BVH reader is checked against the independent `bvhio` package in tests.
"""
import os
import re
from dataclasses import dataclass

import numpy as np

CMU_UNIT_M = 0.0254 / 0.45  # 1 ASF length unit with `length 0.45`: 0.05644 m


class MocapError(ValueError):
    """A motion file that cannot be read; the message names the file and the problem."""


@dataclass
class Motion:
    positions: dict        # name -> (F, 3) metres, world frame, Y up
    rotations: dict        # name -> (F, 3, 3) global rotation relative to the rest pose
    rest: dict             # name -> (3,) rest-pose position (metres)
    fps: float
    source: str

    @property
    def frames(self):
        return len(next(iter(self.positions.values())))


def euler_matrices(angles_deg, order="XYZ"):
    """(F, 3) angles in degrees, one per axis named in `order` -> (F, 3, 3).

    The rotation about order[0] is applied first: R = R[order[2]] R[order[1]] R[order[0]].
    """
    a = np.radians(np.asarray(angles_deg, dtype=np.float64))
    F = a.shape[0]
    R = np.broadcast_to(np.eye(3), (F, 3, 3)).copy()
    for k, axis in enumerate(order.upper()):
        c, s = np.cos(a[:, k]), np.sin(a[:, k])
        M = np.zeros((F, 3, 3))
        i, j = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]
        m = "XYZ".index(axis)
        M[:, m, m] = 1
        M[:, i, i], M[:, i, j], M[:, j, i], M[:, j, j] = c, -s, s, c
        R = M @ R
    return R


# ----------------------------------------------------------------------------- ASF/AMC

def read_asf(path):
    """Parse an ASF skeleton -> dict(bones, children, unit_m, root_order, root_axis)."""
    try:
        with open(path, encoding="latin-1") as f:
            text = f.read()
    except OSError as e:
        raise MocapError(f"{path}: cannot read ({e.strerror})") from None
    sections = {m.group(1): m.start() for m in re.finditer(r"^:(\w+)", text, re.M)}
    for need in ("root", "bonedata", "hierarchy"):
        if need not in sections:
            raise MocapError(f"{path}: not an ASF skeleton (no :{need} section)")
    m = re.search(r"^\s*length\s+([\d.eE+-]+)", text, re.M)
    try:
        unit_m = 0.0254 / float(m.group(1)) if m else CMU_UNIT_M
    except (ValueError, ZeroDivisionError):
        raise MocapError(f"{path}: unusable ':units length {m.group(1)[:20]}'") from None
    if not 0 < unit_m < 1e3:
        raise MocapError(f"{path}: ':units length' gives {unit_m:g} m per unit")
    order = re.search(r":root[^:]*?order\s+([^\n]+)", text, re.S)
    root_order = [c.upper() for c in order.group(1).split()] if order else []
    if sorted(root_order) != ["RX", "RY", "RZ", "TX", "TY", "TZ"]:
        raise MocapError(f"{path}: the :root 'order' must list TX TY TZ RX RY RZ once each")
    bones = {}
    for block in re.findall(r"begin(.*?)end", text[sections["bonedata"]:sections["hierarchy"]], re.S):
        fields = {}
        for line in block.strip().splitlines():
            parts = line.split()
            if parts and parts[0] in ("name", "direction", "length", "axis", "dof"):
                fields[parts[0]] = parts[1:]
        try:
            bones[fields["name"][0]] = {
                "direction": np.array(fields["direction"], float),
                "length_m": float(fields["length"][0]) * unit_m,
                "axis": np.array(fields["axis"][:3], float),
                "axis_order": fields["axis"][3] if len(fields["axis"]) > 3 else "XYZ",
                "dof": [d.lower() for d in fields.get("dof", [])],
            }
        except (KeyError, ValueError, IndexError):
            raise MocapError(f"{path}: malformed bone block ({block.strip().splitlines()[:2]})") from None
        bone = bones[fields["name"][0]]
        if sorted(bone["axis_order"].upper()) != ["X", "Y", "Z"] or bone["direction"].shape != (3,) \
                or bone["axis"].shape != (3,) or not np.isfinite([*bone["direction"], *bone["axis"]]).all():
            raise MocapError(f"{path}: bone '{fields['name'][0]}' has an unusable direction or axis")
    children = {}
    hier = text[sections["hierarchy"]:]
    body = hier[hier.find("begin") + 5: hier.rfind("end")]
    for line in body.strip().splitlines():
        parts = line.split()
        if parts:
            children[parts[0]] = parts[1:]
    for parent, kids in children.items():
        for k in kids:
            if k not in bones:
                raise MocapError(f"{path}: hierarchy names unknown bone '{k}'")
    return {"bones": bones, "children": children, "unit_m": unit_m, "root_order": root_order}


def read_amc(path, skeleton, stride=1):
    """Parse AMC frames -> dict bone -> (F, n_dof) values (every `stride`-th frame)."""
    try:
        with open(path, encoding="latin-1") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise MocapError(f"{path}: cannot read ({e.strerror})") from None
    frames, current, index = [], None, -1
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line[0] in "#:":
            continue
        if line.isdigit():
            index += 1
            current = {} if index % stride == 0 else None
            if current is not None:
                frames.append(current)
            continue
        if current is None and index >= 0:
            continue
        parts = line.split()
        if index < 0 or (parts[0] not in skeleton["bones"] and parts[0] != "root"):
            raise MocapError(f"{path}: line {n}: unexpected '{line[:40]}'")
        try:
            current[parts[0]] = [float(v) for v in parts[1:]]
        except ValueError:
            raise MocapError(f"{path}: line {n}: non-numeric value in '{line[:40]}'") from None
    if not frames:
        raise MocapError(f"{path}: no motion frames")
    out = {}
    names = set().union(*frames)
    for name in names:
        width = len(skeleton["root_order"]) if name == "root" else len(skeleton["bones"][name]["dof"])
        rows = [fr.get(name, [0.0] * width) for fr in frames]
        if any(len(r) != width for r in rows):
            raise MocapError(f"{path}: bone '{name}' has a frame with the wrong number of values (expected {width})")
        out[name] = np.array(rows, float)
        if not np.isfinite(out[name]).all():
            raise MocapError(f"{path}: bone '{name}' has a non-finite value")
    return out


def asf_amc_motion(asf_path, amc_path, stride=1, fps=120.0):
    """Forward kinematics: every ASF bone's end point and global rotation per frame."""
    sk = read_asf(asf_path)
    data = read_amc(amc_path, sk, stride)
    if "root" not in data:
        raise MocapError(f"{amc_path}: no 'root' values in the frames")
    F = len(data["root"])
    order = sk["root_order"]
    trans = np.stack([data["root"][:, order.index(t)] for t in ("TX", "TY", "TZ")], -1) * sk["unit_m"]
    rot = np.stack([data["root"][:, order.index(r)] for r in ("RX", "RY", "RZ")], -1)
    positions, rotations, rest = {"root": trans}, {"root": euler_matrices(rot)}, {"root": np.zeros(3)}

    def visit(parent):
        for name in sk["children"].get(parent, []):
            if name in positions:  # a hierarchy that loops back or names a bone twice
                raise MocapError(f"{asf_path}: hierarchy reaches bone '{name}' twice")
            b = sk["bones"][name]
            C = euler_matrices(b["axis"][None], b["axis_order"])[0]
            angles = np.zeros((F, 3))
            values = data.get(name)
            for k, d in enumerate(b["dof"]):
                if values is not None and d in ("rx", "ry", "rz"):
                    angles[:, "xyz".index(d[1])] = values[:, k]
            local = C @ euler_matrices(angles) @ C.T
            rotations[name] = rotations[parent] @ local
            offset = b["direction"] * b["length_m"]
            positions[name] = positions[parent] + rotations[name] @ offset
            rest[name] = rest[parent] + offset
            visit(name)
    try:
        visit("root")
    except RecursionError:
        raise MocapError(f"{asf_path}: hierarchy too deep") from None
    return Motion(positions, rotations, rest, fps, os.path.basename(amc_path))


# ----------------------------------------------------------------------------- BVH

def read_bvh(path, unit_m=CMU_UNIT_M, stride=1):
    """BVH -> Motion of every joint's origin (and end sites as '<joint>_end').

    unit_m: metres per BVH unit (CMU conversions use the ASF unit; pass 0.01 for cm).
    """
    try:
        with open(path, encoding="latin-1") as f:
            text = f.read()
    except OSError as e:
        raise MocapError(f"{path}: cannot read ({e.strerror})") from None
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
    return Motion(positions, rotations, rest, 1.0 / frame_time / stride, os.path.basename(path))
