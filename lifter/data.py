"""Mocap folders -> training trials: per frame 34 world points (metres, Y up), the 17
output joints in Human3.6M's definitions (lifter/mocap/h36m_targets.py) then the 17 COCO
markers a detector would report for the same body (lifter/mocap/points.py).

Folders hold ASF/AMC (asf/ + amc/ subfolders, or side by side) or BVH (plain or .gz) on
any rig of lifter/mocap/rigs.py, told by the root joint's name. Reading is cached under
the repository's git-ignored .cache/mocap, keyed by the files and every module that
shapes the cached points.
"""
import csv
import glob
import hashlib
import os
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from .mocap.asf import asf_amc_motion
from .mocap.bodies import body_factors
from .mocap.bvh import read_bvh
from .mocap.h36m_targets import reference_directions, to_h36m
from .mocap.motion import MocapError
from .mocap.points import motion_points
from .mocap.rigs import ASF, BVH_RIGS, point_names
from .skeleton import JOINTS

LIFTER_DIR = os.path.dirname(os.path.abspath(__file__))
CACHE_DIR = os.path.join(os.path.dirname(LIFTER_DIR), ".cache", "mocap")
# Every module that shapes the cached points (the modules this one imports, and theirs):
# the cache key hashes their source (tests/test_mocap.py checks the list is complete).
CACHE_MODULES = ("__init__.py", "data.py", "skeleton.py", "mocap/__init__.py", "mocap/asf.py", "mocap/bodies.py",
                 "mocap/bvh.py", "mocap/h36m_targets.py", "mocap/motion.py", "mocap/points.py", "mocap/rigs.py")


@dataclass
class Trial:
    subject: str
    name: str
    action: str
    points: np.ndarray  # (F, 34, 3) world metres, Y up
    fps: float
    figure: str = ""    # whose bone lengths: "asf_<subject>", a rig's one figure, or "bvh_<take>"
    body: np.ndarray = field(default_factory=lambda: np.ones(len(JOINTS), np.float32))  # (17,) length factors


def _labels(folder):
    path = os.path.join(folder, "trials.csv")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:  # cmu-mocap: trial,label; the BVH rig folders: trial,...,category
        return {row["trial"]: row.get("label") or row.get("category") or "unlabelled" for row in csv.DictReader(f)}


def _action_from_name(stem):
    parts = stem.split("_")  # HDM_bd_squat1Reps_001_120 -> squat1Reps
    return parts[2] if len(parts) >= 4 and parts[0] == "HDM" else "unlabelled"


def read_rig_bvh(path, stride=1):
    """Read a BVH, find its rig by the root joint's name, convert to metres and subsample
    as `stride` would a 120 fps file (a 60 fps file keeps every stride/2-th frame)
    -> (Motion, mapping)."""
    motion = read_bvh(path, unit_m=1.0)
    stride = max(1, round(stride * motion.fps / 120.0))
    root = next(iter(motion.positions))
    if root not in BVH_RIGS:
        raise MocapError(f"{path}: unknown BVH rig (root joint '{root}'; known: {sorted(BVH_RIGS)})")
    rig = BVH_RIGS[root]
    k = rig["unit_m"]
    motion.positions = {n: p[::stride] * k for n, p in motion.positions.items()}
    motion.rotations = {n: r[::stride] for n, r in motion.rotations.items()}
    motion.rest = {n: p * k for n, p in motion.rest.items()}
    motion.fps /= stride
    return motion, rig


def read_raw_folder(folder, stride=4):
    """Every trial of a mocap folder with its raw points (the rigs' own joint definitions).
    stride subsamples frames of 120 fps sources (4: 30 fps); other rates get the stride
    that brings them to the same rate."""
    if not os.path.isdir(folder):
        raise MocapError(f"mocap folder {folder}: not found")
    asf = {os.path.splitext(os.path.basename(p))[0]: p
           for p in glob.glob(os.path.join(folder, "**", "*.asf"), recursive=True)}
    amcs = sorted(glob.glob(os.path.join(folder, "**", "*.amc"), recursive=True))
    bvhs = sorted(glob.glob(os.path.join(folder, "**", "*.bvh"), recursive=True)
                  + glob.glob(os.path.join(folder, "**", "*.bvh.gz"), recursive=True))
    if not amcs and not bvhs:
        raise MocapError(f"mocap folder {folder}: no .amc or .bvh files")
    labels = _labels(folder)
    jobs = []
    for amc in amcs:
        stem = os.path.splitext(os.path.basename(amc))[0]
        match = max((s for s in asf if stem.startswith(s + "_")), key=len, default=None)
        if match is not None:  # else a motion whose skeleton is absent (the README lists such trials)
            jobs.append((stem, amc, match))
    jobs += [(os.path.basename(p).split(".")[0], p, None) for p in bvhs]
    trials = []
    for stem, path, subject in tqdm(jobs, desc=f"reading {os.path.basename(folder.rstrip('/'))}", leave=False):
        if subject is None:
            motion, mapping = read_rig_bvh(path, stride)
            figure = mapping["figure"]
            subject = f"{figure}_{stem.split('_')[0]}" if figure else f"bvh_{stem}"
            figure = figure or subject
        else:
            motion, mapping = asf_amc_motion(asf[subject], path, stride=stride, fps=120.0 / stride), ASF
            figure = f"asf_{subject}"
        missing = sorted(point_names(mapping) - set(motion.positions))
        if missing:
            raise MocapError(f"{path}: lacks the joints {missing} needed for the 17-joint skeleton")
        trials.append(Trial(subject, stem, labels.get(stem, _action_from_name(stem)),
                            motion_points(motion, mapping), motion.fps, figure))
    return trials


def read_folder(folder, stride=4):
    """read_raw_folder, then Human3.6M's definitions: each figure's placements measured on
    all its frames, real subjects keep their own build, rig figures get the mean body.
    Raises MocapError."""
    trials = read_raw_folder(folder, stride)
    for figure in sorted({t.figure for t in trials}):
        mine = [t for t in trials if t.figure == figure]
        raw = np.concatenate([t.points[:, :len(JOINTS)] for t in mine])
        ref = reference_directions(raw)
        body = body_factors(raw) if figure.startswith("asf_") else np.ones(len(JOINTS), np.float32)
        for t in mine:
            t.points, t.body = to_h36m(t.points, ref, body), body
    return trials


def _cache_key(folder, stride):
    h = hashlib.sha1(repr((os.path.abspath(folder), stride)).encode())
    for f in sorted(glob.glob(os.path.join(folder, "**", "*.*"), recursive=True)):
        h.update(f"{f}:{os.path.getsize(f)}:{os.path.getmtime(f)}".encode())
    for f in CACHE_MODULES:
        with open(os.path.join(LIFTER_DIR, f), "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:12]


def load_trials(folders, stride=4, subjects=None, cache_dir=CACHE_DIR):
    """read_folder over several folders, cached as one npz per folder and settings.
    subjects: keep only trials whose subject or trial name is in this set."""
    out = []
    for folder in folders:
        cache = os.path.join(cache_dir, f"{os.path.basename(folder.rstrip('/'))}-{_cache_key(folder, stride)}.npz")
        if os.path.isfile(cache):
            with np.load(cache, allow_pickle=False) as z:
                trials = [Trial(s, n, a, z[f"p{i}"], float(fps), fig, z[f"b{i}"])
                          for i, (s, n, a, fps, fig) in enumerate(z["meta"])]
        else:
            trials = read_folder(folder, stride)
            os.makedirs(cache_dir, exist_ok=True)
            meta = np.array([(t.subject, t.name, t.action, str(t.fps), t.figure) for t in trials])
            np.savez(cache, meta=meta, **{f"p{i}": t.points for i, t in enumerate(trials)},
                     **{f"b{i}": t.body for i, t in enumerate(trials)})
        out += [t for t in trials if subjects is None or t.subject in subjects or t.name in subjects]
    return out


def split_validation(trials, held_out):
    """-> (training trials, validation trials): a trial is held out when its subject or its
    take name is in `held_out`; held-out trials reach neither training nor the pool of
    recombination sources (both are built from the first list only)."""
    held_out = set(held_out)
    val = [t for t in trials if t.subject in held_out or t.name in held_out]
    return [t for t in trials if not (t.subject in held_out or t.name in held_out)], val
