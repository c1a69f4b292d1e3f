"""ASF/AMC (CMU, HDM05) by forward kinematics. No maintained PyPI package does forward
kinematics on ASF/AMC, so it is written here and checked against the data READMEs."""
import os
import re

import numpy as np

from .motion import CMU_UNIT_M, MocapError, Motion, euler_matrices

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
