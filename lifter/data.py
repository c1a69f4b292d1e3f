"""Mocap -> training points: Human3.6M-definition 3D joints plus virtual COCO markers.

Per frame we produce 34 world points (metres, Y up): the 17 OUTPUT joints with
Human3.6M's definitions (lifter/skeleton.py) and the 17 COCO keypoints a 2D detector
would report for the same body (nose, eyes, ears are placed in the head's frame).
Definitions, with the evidence behind them (Human3.6M S11 heights above the pelvis:
spine 253, thorax 498, neck/nose 561, head 676 mm; see ../shared/data READMEs):
  pelvis    = midpoint of the two hip joints (mocap roots sit ~80 mm higher)
  spine     = halfway along the spine chain from the pelvis to the thorax
  joint 9   = in front of the neck: 0.65 L below the head top, 0.48 L forward
  head      = head top; L = rest-pose distance from thorax to head top (~185 mm)
"""
import csv
import glob
import hashlib
import os
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .mocap import MocapError, asf_amc_motion, read_bvh
from .skeleton import COCO_JOINTS, JOINTS, PARENTS

# Mocap point names for each role, per source format (positions of bone ends for ASF,
# joint origins for BVH). "chain" runs from the mocap root up to the thorax.
ASF_MAP = {
    "right_hip": "rhipjoint", "right_knee": "rfemur", "right_ankle": "rtibia",
    "left_hip": "lhipjoint", "left_knee": "lfemur", "left_ankle": "ltibia",
    "thorax": "lowerneck", "head": "head", "head_frame": "head",
    "left_shoulder": "lclavicle", "left_elbow": "lhumerus", "left_wrist": "lradius",
    "right_shoulder": "rclavicle", "right_elbow": "rhumerus", "right_wrist": "rradius",
    "chain": ("root", "lowerback", "upperback", "thorax", "lowerneck"),
}
BVH_CMU_MAP = {  # the common CMU BVH conversion (no thorax bone; see cmu-bvh README)
    "right_hip": "RightUpLeg", "right_knee": "RightLeg", "right_ankle": "RightFoot",
    "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot",
    "thorax": "Neck", "head": "Head_end", "head_frame": "Head",
    "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm", "left_wrist": "LeftHand",
    "right_shoulder": "RightArm", "right_elbow": "RightForeArm", "right_wrist": "RightHand",
    "chain": ("Hips", "LowerBack", "Spine", "Spine1", "Neck"),
}

# Face markers in the head frame, relative to the head top, in units of L:
# (up, forward, left). Anthropometric proportions of an adult head.
FACE = {"nose": (-0.46, 0.42, 0.0), "left_eye": (-0.30, 0.36, 0.17), "right_eye": (-0.30, 0.36, -0.17),
        "left_ear": (-0.40, -0.02, 0.40), "right_ear": (-0.40, -0.02, -0.40)}
NECK_NOSE = (-0.65, 0.48, 0.0)
# COCO hips sit on the skin, outside and a little above the femur heads (metres, (up, left) outward).
COCO_HIP_OFFSET_M = (0.02, 0.03)

NUM_POINTS = len(JOINTS) + len(COCO_JOINTS)
COCO_OFFSET = len(JOINTS)  # points[:, 17:] are the COCO markers
# Every COCO marker hangs from the output joint it moves with (for re-posing/bone scaling).
_COCO_PARENT = {"nose": "head", "left_eye": "head", "right_eye": "head", "left_ear": "head",
                "right_ear": "head"}
POINT_PARENTS = tuple(PARENTS) + tuple(
    JOINTS.index(_COCO_PARENT.get(n, n)) for n in COCO_JOINTS)


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def motion_points(motion, mapping):
    """Motion -> (F, 34, 3) float32: 17 output joints then 17 COCO markers (metres)."""
    P, rest = motion.positions, motion.rest
    get = lambda role: P[mapping[role]]
    pelvis = 0.5 * (get("left_hip") + get("right_hip"))
    # spine: halfway along the polyline pelvis -> chain -> thorax (segment lengths are rigid,
    # so they are measured once on the rest pose)
    pts = [pelvis] + [P[n] for n in mapping["chain"]]
    rest_pts = [0.5 * (rest[mapping["left_hip"]] + rest[mapping["right_hip"]])] + [rest[n] for n in mapping["chain"]]
    seg = np.array([np.linalg.norm(b - a) for a, b in zip(rest_pts[:-1], rest_pts[1:])])
    half, cum = seg.sum() / 2, np.cumsum(seg)
    k = int(np.searchsorted(cum, half))
    t = (half - (cum[k] - seg[k])) / max(seg[k], 1e-9)
    spine = pts[k] + t * (pts[k + 1] - pts[k])
    # head frame from the rest pose: up = +Y, left = shoulder-to-shoulder, forward = left x up
    up = np.array([0.0, 1.0, 0.0])
    left = rest[mapping["left_shoulder"]] - rest[mapping["right_shoulder"]]
    left = _unit(left - up * (left @ up))
    fwd = np.cross(left, up)
    L = np.linalg.norm(rest[mapping["head"]] - rest[mapping["thorax"]])
    R_head = motion.rotations[mapping["head_frame"]]
    top = get("head")

    def on_head(u, f, l):
        return top + R_head @ (L * (u * up + f * fwd + l * left))

    joints = {"pelvis": pelvis, "spine": spine, "neck_nose": on_head(*NECK_NOSE)}
    out = [joints.get(n, P[mapping[n]] if n in mapping else None) for n in JOINTS]
    coco = []
    R_pelvis = motion.rotations[mapping["chain"][0]]
    for n in COCO_JOINTS:
        if n in FACE:
            coco.append(on_head(*FACE[n]))
        elif n.endswith("_hip"):
            side = 1.0 if n.startswith("left") else -1.0
            u, l = COCO_HIP_OFFSET_M
            coco.append(get(n) + R_pelvis @ (u * up + side * l * left))
        else:
            coco.append(get(n))
    return np.stack(out + coco, axis=1).astype(np.float32)


@dataclass
class Trial:
    subject: str
    name: str
    action: str
    points: np.ndarray  # (F, 34, 3) world metres, Y up
    fps: float


def _labels(folder):
    path = os.path.join(folder, "trials.csv")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return {row["trial"]: row["label"] for row in csv.DictReader(f)}


def _action_from_name(stem):
    parts = stem.split("_")  # HDM_bd_squat1Reps_001_120 -> squat1Reps
    return parts[2] if len(parts) >= 4 and parts[0] == "HDM" else "unlabelled"


def read_folder(folder, stride=4, subjects=None):
    """Every trial in a mocap folder: ASF/AMC (asf/ + amc/ subfolders, or side by side)
    or BVH files. stride subsamples frames (120 fps -> 30 fps with 4). Raises MocapError."""
    if not os.path.isdir(folder):
        raise MocapError(f"mocap folder {folder}: not found")
    asf = {os.path.splitext(os.path.basename(p))[0]: p
           for p in glob.glob(os.path.join(folder, "**", "*.asf"), recursive=True)}
    amcs = sorted(glob.glob(os.path.join(folder, "**", "*.amc"), recursive=True))
    bvhs = sorted(glob.glob(os.path.join(folder, "**", "*.bvh"), recursive=True))
    if not amcs and not bvhs:
        raise MocapError(f"mocap folder {folder}: no .amc or .bvh files")
    labels = _labels(folder)
    jobs = []
    for amc in amcs:
        stem = os.path.splitext(os.path.basename(amc))[0]
        match = max((s for s in asf if stem.startswith(s + "_")), key=len, default=None)
        if match is None:
            continue  # a motion whose skeleton is absent (the README lists such trials)
        jobs.append((match, stem, amc))
    for bvh in bvhs:
        stem = os.path.splitext(os.path.basename(bvh))[0]
        jobs.append((f"bvh_{stem}", stem, bvh))
    if subjects is not None:
        jobs = [j for j in jobs if j[0] in subjects]
    trials = []
    for subject, stem, path in tqdm(jobs, desc=f"reading {os.path.basename(folder.rstrip('/'))}", leave=False):
        if path.endswith(".bvh"):
            motion, mapping = read_bvh(path, stride=stride), BVH_CMU_MAP
        else:
            motion, mapping = asf_amc_motion(asf[subject], path, stride=stride, fps=120.0 / stride), ASF_MAP
        missing = [n for r, n in mapping.items() if r != "chain" and n not in motion.positions]
        if missing:
            raise MocapError(f"{path}: lacks the joints {missing} needed for the 17-joint skeleton")
        trials.append(Trial(subject, stem, labels.get(stem, _action_from_name(stem)),
                            motion_points(motion, mapping), motion.fps))
    return trials


def load_trials(folders, stride=4, subjects=None, cache_dir=".cache/mocap"):
    """read_folder over several folders, cached as one npz per folder and settings."""
    out = []
    for folder in folders:
        files = sorted(glob.glob(os.path.join(folder, "**", "*.*"), recursive=True))
        key = hashlib.sha1(repr((os.path.abspath(folder), stride, [(f, os.path.getsize(f)) for f in files],
                                 open(__file__).read())).encode()).hexdigest()[:12]
        cache = os.path.join(cache_dir, f"{os.path.basename(folder.rstrip('/'))}-{key}.npz")
        if os.path.isfile(cache):
            z = np.load(cache, allow_pickle=False)
            meta = z["meta"]
            trials = [Trial(s, n, a, z[f"p{i}"], float(fps)) for i, (s, n, a, fps) in enumerate(meta)]
        else:
            trials = read_folder(folder, stride)
            os.makedirs(cache_dir, exist_ok=True)
            meta = np.array([(t.subject, t.name, t.action, str(t.fps)) for t in trials])
            np.savez(cache, meta=meta, **{f"p{i}": t.points for i, t in enumerate(trials)})
        out += [t for t in trials if subjects is None or t.subject in subjects]
    return out
