"""Checking what an export directory holds before finalising it (poses.jsonl, meta.json).

Those files may come from outside (a copied or hand-edited export, a crashed run), so
each is checked against the layout app.exports writes; anything else is a one-line
ValueError naming the file and line.
"""
import json
import math

import numpy as np

from .bvh import BONE_LENGTHS

# person field -> shape of its array (values are numbers or null)
PERSON_FIELDS = {"keypoints_2d_px": (17, 2), "scores": (17,), "joints_3d_m": (17, 3),
                 "root_m": (3,), "sigma_m": (17,)}


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_line(text, where):
    """One JSON value, or a ValueError naming `where`; deep nesting is an error, not a crash."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{where}: nested too deeply") from None


def check_record(record, where):
    """A poses.jsonl frame record: {"frame": int, "time_s": number, "people": [person, ...]}."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: a frame record must be a JSON object")
    frame = record.get("frame")
    if not _number(frame) or not math.isfinite(frame) or frame != int(frame):
        raise ValueError(f"{where}: 'frame' must be a whole number")
    if not _number(record.get("time_s")) or not math.isfinite(record["time_s"]):
        raise ValueError(f"{where}: 'time_s' must be a finite number")
    people = record.get("people")
    if not isinstance(people, list) or not all(isinstance(p, dict) for p in people):
        raise ValueError(f"{where}: 'people' must be a list of objects")
    for person in people:
        track_id = person.get("track_id")
        if track_id is not None and (not _number(track_id) or not math.isfinite(track_id)
                                     or track_id != int(track_id)):
            raise ValueError(f"{where}: person track_id must be a whole number or null")
        for key, shape in PERSON_FIELDS.items():
            value = person.get(key)
            try:
                arr = np.array(value, dtype=np.float64)  # null -> NaN
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"{where}: person {key} is not numeric") from None
            if arr.shape != shape:
                raise ValueError(f"{where}: person {key} has shape {arr.shape}, expected {shape}")
    return record


def read_meta(path):
    """meta.json -> dict, with its fps and bvh_bone_lengths checked."""
    try:
        meta = parse_line(path.read_text(encoding="utf-8"), path)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({type(e).__name__})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a JSON object")
    fps = meta.get("fps")
    if fps is not None and (not _number(fps) or not 0 < fps < 10000):
        raise ValueError(f"{path}: fps {fps!r} is not a positive frame rate")
    lengths = meta.get("bvh_bone_lengths")
    if lengths is not None and lengths not in BONE_LENGTHS:
        raise ValueError(f"{path}: bvh_bone_lengths {lengths!r}, expected one of {', '.join(BONE_LENGTHS)}")
    return meta
