"""Recorded 3D skeletons: poses.jsonl streamed per frame, then npz / csv / bvh.

poses.jsonl gets one line per finished frame, flushed at once, so a crash or a kill
keeps every frame written so far; meta.json beside it holds what does not change
(joint names, parents, fps, image size, intrinsics, versions). `finalise(dir)` builds
poses.npz, poses.csv and one skeleton_<track id>.bvh per track from those two files
alone, which is how an interrupted run is finished afterwards (python -m app.finalise DIR).

Every person carries a track_id (a person without one, as from before tracking, gets
its slot in the frame). poses.npz has one slot per track, in ascending track id:
slot p of every per-person array holds track `track_ids[p]` in every frame; `track_id`
(F, P) repeats that id where the track was seen and is -1 where it was not.
"""
import csv
import json
import os
from pathlib import Path

import numpy as np

from lifter.skeleton import JOINTS, PARENTS

from .bvh import resample_uniform, write_bvh
from .pose_records import check_record, parse_line, read_meta

JSONL, META, NPZ, CSV = "poses.jsonl", "meta.json", "poses.npz", "poses.csv"
MAX_INTERPOLATED_GAP_S = 0.5  # BVH: a track unseen longer than this holds its last pose


def bvh_name(track_id):
    return f"skeleton_{track_id}.bvh"


def _list(a, decimals):
    """Array -> nested lists with NaN as null (JSON has no NaN)."""
    a = np.round(np.asarray(a, dtype=np.float64), decimals)
    return np.where(np.isfinite(a), a, None).tolist()


def frame_record(frame):
    """app.frame.Frame -> the JSON object of one poses.jsonl line."""
    people = [{
        "keypoints_2d_px": _list(p.keypoints_px, 2),
        "scores": _list(p.scores, 4),
        "joints_3d_m": _list(p.joints_m, 5),
        "root_m": _list(p.root_m, 5),
        "sigma_m": _list(p.sigma_m, 5),
        "track_id": int(i if p.track_id is None else p.track_id),
        "refine": dict(frame.refine),
    } for i, p in enumerate(frame.people)]
    return {"frame": int(frame.index), "time_s": round(float(frame.time_s), 6), "people": people}


def prepare_export_dir(path):
    """Create the export directory and prove it is writable, or raise a one-line ValueError."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"export dir {path}: not writable ({e.strerror or e})") from None
    return path


class PoseRecorder:
    """Streams frames into DIR/poses.jsonl; close() finalises npz/csv/bvh."""

    def __init__(self, out_dir, meta):
        self.dir = prepare_export_dir(out_dir)
        (self.dir / META).write_text(json.dumps(meta, indent=1))
        self._file = open(self.dir / JSONL, "w")
        self.frames = 0

    def write(self, frame):
        self._file.write(json.dumps(frame_record(frame), separators=(",", ":")) + "\n")
        self._file.flush()  # the OS keeps flushed bytes even if this process is killed
        self.frames += 1

    def close(self):
        if self._file.closed:
            return None
        self._file.close()
        return finalise(self.dir)


def read_jsonl(path):
    """poses.jsonl -> list of frame dicts. A torn last line (the process died mid-write)
    is dropped; a broken line anywhere else is an error."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: not found")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(check_record(parse_line(line, f"{path}: line {i + 1}"), f"{path}: line {i + 1}"))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise ValueError(f"{path}: line {i + 1} is not valid JSON") from None
    return records


def track_ids_of(record):
    """The track ids of one frame dict's people, in order (slot index where none)."""
    ids = [i if p.get("track_id") is None else int(p["track_id"]) for i, p in enumerate(record["people"])]
    if len(set(ids)) != len(ids):
        raise ValueError(f"frame {record.get('frame')}: a track id appears twice ({ids})")
    return ids


def to_arrays(records):
    """Frame dicts -> arrays over frames F and tracks P (one slot per track, NaN where the
    track was not seen): keypoints_2d_px (F, P, 17, 2), scores (F, P, 17), joints_3d_m
    (F, P, 17, 3), root_m (F, P, 3), sigma_m (F, P, 17), track_ids (P,) the id of each
    slot, track_id (F, P) that id or -1, person (F, P) index in the frame's people list
    or -1, num_people (F,), frame (F,), time_s (F,)."""
    F = len(records)
    per_frame = [track_ids_of(r) for r in records]
    track_ids = sorted({t for ids in per_frame for t in ids}) or [0]
    slot = {t: k for k, t in enumerate(track_ids)}
    P = len(track_ids)
    shapes = {"keypoints_2d_px": (17, 2), "scores": (17,), "joints_3d_m": (17, 3),
              "root_m": (3,), "sigma_m": (17,)}
    out = {k: np.full((F, P) + s, np.nan, np.float32) for k, s in shapes.items()}
    out["track_id"] = np.full((F, P), -1, np.int64)
    out["person"] = np.full((F, P), -1, np.int32)
    for f, (r, ids) in enumerate(zip(records, per_frame)):
        for i, (person, t) in enumerate(zip(r["people"], ids)):
            for k in shapes:
                out[k][f, slot[t]] = np.array(person[k], dtype=np.float64)  # null -> nan
            out["track_id"][f, slot[t]], out["person"][f, slot[t]] = t, i
    out["track_ids"] = np.array(track_ids, np.int64)
    out["num_people"] = np.array([len(r["people"]) for r in records], np.int32)
    out["frame"] = np.array([r["frame"] for r in records], np.int64)
    out["time_s"] = np.array([r["time_s"] for r in records], np.float64)
    return out


def write_npz(path, arrays):
    np.savez_compressed(path, joint_names=np.array(JOINTS), parents=np.array(PARENTS), **arrays)


def write_csv(path, arrays):
    """One row per frame, person and joint, people in their order in the frame; a frame
    with nobody gets 17 rows of empty values."""
    def cell(v):
        return "" if not np.isfinite(v) else f"{v:.5f}"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "time_s", "person", "track_id", "joint", "joint_name", "u_px", "v_px", "score",
                    "x_m", "y_m", "z_m", "root_x_m", "root_y_m", "root_z_m", "sigma_m"])
        for f in range(len(arrays["frame"])):
            present = np.flatnonzero(arrays["person"][f] >= 0)
            slots = present[np.argsort(arrays["person"][f, present])] if len(present) else [0]
            for p in slots:
                seen = arrays["person"][f, p] >= 0
                who = [int(arrays["person"][f, p]), int(arrays["track_id"][f, p])] if seen else ["", ""]
                for j, name in enumerate(JOINTS):
                    kp, xyz, root = (arrays["keypoints_2d_px"][f, p, j], arrays["joints_3d_m"][f, p, j],
                                     arrays["root_m"][f, p])
                    w.writerow([int(arrays["frame"][f]), f"{arrays['time_s'][f]:.6f}", *who, j, name,
                                *map(cell, kp), cell(arrays["scores"][f, p, j]), *map(cell, xyz),
                                *map(cell, root), cell(arrays["sigma_m"][f, p, j])])


def write_track_bvhs(out_dir, arrays, fps, bone_lengths):
    """One skeleton_<id>.bvh per track seen with a complete 3D skeleton, resampled to
    fps over the track's recorded time_s so playback runs at the source's speed even
    when frames were dropped. Returns the names written."""
    names = []
    for p, track in enumerate(arrays["track_ids"]):
        absolute = arrays["joints_3d_m"][:, p] + arrays["root_m"][:, p, None, :]
        if not np.isfinite(absolute).all(axis=(1, 2)).any():
            continue
        uniform = resample_uniform(absolute, arrays["time_s"], fps, MAX_INTERPOLATED_GAP_S)
        write_bvh(out_dir / bvh_name(int(track)), uniform, fps, bone_lengths)
        names.append(bvh_name(int(track)))
    return names


def finalise(out_dir, bvh_bone_lengths=None):
    """Rebuild poses.npz, poses.csv and skeleton_<id>.bvh per track from DIR/poses.jsonl +
    DIR/meta.json. BVH frame rate: meta.json's fps (the source's), else 30; frames where
    a track was unseen for up to MAX_INTERPOLATED_GAP_S are interpolated, longer gaps hold
    the last pose. bvh_bone_lengths (median | per-frame, see app.bvh) defaults to
    meta.json's "bvh_bone_lengths", else median. BVH files of an earlier run in DIR that
    this run did not write are removed (they would lie).
    Returns {"frames": F, "tracks": [ids], "files": [written names]}."""
    out_dir = Path(out_dir)
    meta_path = out_dir / META
    if not meta_path.is_file():
        raise ValueError(f"export dir {out_dir}: no {META} (not a pose export?)")
    meta = read_meta(meta_path)  # checked: the directory may come from outside
    records = read_jsonl(out_dir / JSONL)
    arrays = to_arrays(records)
    write_npz(out_dir / NPZ, arrays)
    write_csv(out_dir / CSV, arrays)
    bvhs = write_track_bvhs(out_dir, arrays, float(meta.get("fps") or 30.0),
                            bvh_bone_lengths or meta.get("bvh_bone_lengths", "median"))
    for stale in out_dir.glob("skeleton*.bvh"):
        if stale.name not in bvhs:
            os.remove(stale)
    tracks = [int(t) for t in arrays["track_ids"][(arrays["track_id"] >= 0).any(axis=0)]]
    return {"frames": len(records), "tracks": tracks, "files": [NPZ, CSV] + bvhs}
