"""People over time: a track_id per person that stays the same from frame to frame.

Each frame, every live track is moved by its constant-velocity prediction, then tracks
and detections are matched by optimal assignment (scipy's linear_sum_assignment) on a
similarity that mixes box IoU and keypoint similarity (OKS, detectors.similarity); pairs
less alike than `min_similarity` are not matched. A confirmed track lost for a while (a
jump, an occlusion) can then be re-acquired by a leftover detection near its last place:
box centres within REACQUIRE_HEIGHTS_PER_S body heights per second lost (plus one), box
heights within a factor of 3 (people crouch and stand up). A detection nobody claims starts a
tentative track, which is born (confirmed, given an id) after `confirm_frames` matched
frames in a row and forgotten at its first miss; a confirmed track survives up to
`max_missed` frames without a match (occlusion, a detector miss) and then ends. Ids
count up from 1 and are never reused in a run. Only people on confirmed tracks are
returned, each with its track_id set.
"""
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from detectors.similarity import box_area, box_iou, oks

IOU_WEIGHT = 0.5       # similarity = IOU_WEIGHT * IoU + (1 - IOU_WEIGHT) * OKS
VELOCITY_GAIN = 0.5    # how much of a new velocity measurement replaces the old estimate
MAX_PREDICT_S = 0.5    # a lost track's prediction stops moving after this long
REACQUIRE_HEIGHTS_PER_S = 2.0  # how far (body heights per second lost) a lost track may be re-acquired


@dataclass
class Track:
    box_xyxy: np.ndarray              # (4,) px, last matched
    keypoints_px: np.ndarray          # (17, 2) px, last matched (NaN = missing)
    scores: np.ndarray                # (17,)
    time_s: float                     # when last matched
    velocity_px_s: np.ndarray = field(default_factory=lambda: np.zeros(4))  # of the box corners
    track_id: int | None = None       # set at birth (confirmation)
    hits: int = 1                     # matched frames in a row while tentative
    missed: int = 0                   # frames in a row without a match

    def predicted(self, time_s):
        """(box (4,), keypoints (17, 2)) moved to time_s at constant velocity."""
        dt = float(np.clip(time_s - self.time_s, 0.0, MAX_PREDICT_S))
        shift = self.velocity_px_s * dt
        centre_shift = 0.5 * (shift[:2] + shift[2:])
        return self.box_xyxy + shift, self.keypoints_px + centre_shift


class Tracker:
    def __init__(self, confirm_frames=3, max_missed=30, min_similarity=0.2):
        """confirm_frames: matched frames in a row before a track is born (1 = at once);
        max_missed: frames a confirmed track survives unmatched; min_similarity: the
        least IoU/OKS mix in [0, 1] a match needs."""
        if not (isinstance(confirm_frames, int) and confirm_frames >= 1):
            raise ValueError(f"tracker confirm_frames {confirm_frames!r}: must be an integer >= 1")
        if not (isinstance(max_missed, int) and max_missed >= 0):
            raise ValueError(f"tracker max_missed {max_missed!r}: must be an integer >= 0")
        if not 0.0 <= min_similarity <= 1.0:
            raise ValueError(f"tracker min_similarity {min_similarity!r}: must be in [0, 1]")
        self.confirm_frames, self.max_missed, self.min_similarity = confirm_frames, max_missed, min_similarity
        self.tracks = []
        self.next_id = 1

    def similarity(self, people, time_s):
        """(tracks, people) matrix of IOU_WEIGHT * IoU + (1 - IOU_WEIGHT) * OKS against
        each track's prediction at time_s."""
        if not self.tracks or not people:
            return np.zeros((len(self.tracks), len(people)))
        pred = [t.predicted(time_s) for t in self.tracks]
        boxes = np.stack([b for b, _ in pred])
        kp = np.stack([k for _, k in pred])
        sc = np.stack([t.scores for t in self.tracks])
        det_boxes = np.stack([np.asarray(p.bbox_xyxy, np.float64) for p in people])
        det_kp = np.stack([np.asarray(p.keypoints_px, np.float64) for p in people])
        det_sc = np.stack([np.asarray(p.scores, np.float64) for p in people])
        # OKS scale: the mean of both boxes' areas, so it is symmetric
        area = 0.5 * (box_area(boxes)[:, None] + box_area(det_boxes)[None])
        similar_kp = np.stack([oks(kp[i:i + 1], det_kp, area[i], sc[i:i + 1], det_sc)[0]
                               for i in range(len(self.tracks))])
        return IOU_WEIGHT * box_iou(boxes, det_boxes) + (1 - IOU_WEIGHT) * similar_kp

    def update(self, people, time_s):
        """people: this frame's detections (objects with keypoints_px (17, 2), scores (17,),
        bbox_xyxy (4,) and a track_id attribute); time_s: the frame's time in seconds.
        Returns the people on confirmed tracks, in input order, track_id set."""
        people = [p for p in people if p.bbox_xyxy is not None]
        sim = self.similarity(people, time_s)
        rows, cols = linear_sum_assignment(-sim) if sim.size else ((), ())
        matched = {c: r for r, c in zip(rows, cols) if sim[r, c] >= self.min_similarity}
        matched.update(self._reacquire(people, time_s, matched))
        claimed = set(matched.values())
        for r, track in enumerate(self.tracks):
            if r not in claimed:
                track.missed += 1
        for c, r in matched.items():
            self._follow(self.tracks[r], people[c], time_s)
        track_of = {c: self.tracks[r] for c, r in matched.items()}
        for c, p in enumerate(people):
            if c not in matched:
                track_of[c] = Track(np.asarray(p.bbox_xyxy, np.float64),
                                    np.asarray(p.keypoints_px, np.float64),
                                    np.asarray(p.scores, np.float64), float(time_s))
                self._confirm(track_of[c])
        self.tracks = [t for t in self.tracks if self._alive(t)] + [track_of[c] for c in sorted(track_of)
                                                                    if c not in matched]
        shown = []
        for c, p in enumerate(people):
            p.track_id = track_of[c].track_id
            if p.track_id is not None:
                shown.append(p)
        return shown

    def _reacquire(self, people, time_s, matched):
        """{detection: track} for leftover detections near lost confirmed tracks, nearest
        (in body heights) first."""
        lost = [r for r, t in enumerate(self.tracks)
                if t.track_id is not None and t.missed > 0 and r not in matched.values()]
        free = [c for c in range(len(people)) if c not in matched]
        if not lost or not free:
            return {}
        box = np.stack([self.tracks[r].box_xyxy for r in lost])
        det = np.stack([np.asarray(people[c].bbox_xyxy, np.float64) for c in free])
        height, det_height = box[:, 3] - box[:, 1], det[:, 3] - det[:, 1]
        centre = lambda b: 0.5 * (b[:, :2] + b[:, 2:])  # noqa: E731
        dist = np.linalg.norm(centre(box)[:, None] - centre(det)[None], axis=-1) / np.maximum(height, 1)[:, None]
        lost_s = np.array([time_s - self.tracks[r].time_s for r in lost])
        ratio = det_height[None] / np.maximum(height, 1)[:, None]
        ok = (dist <= 1 + REACQUIRE_HEIGHTS_PER_S * lost_s[:, None]) & (ratio > 1 / 3) & (ratio < 3)
        rows, cols = linear_sum_assignment(np.where(ok, dist, 1e6))
        return {free[c]: lost[r] for r, c in zip(rows, cols) if ok[r, c]}

    def _follow(self, track, person, time_s):
        box = np.asarray(person.bbox_xyxy, np.float64)
        step = box - track.box_xyxy
        dt = time_s - track.time_s
        if dt > 0:
            track.velocity_px_s = track.velocity_px_s + VELOCITY_GAIN * (step / dt - track.velocity_px_s)
        kp = np.asarray(person.keypoints_px, np.float64)
        # a joint missing now keeps its last position (moved with the body) for matching
        moved = track.keypoints_px + 0.5 * (step[:2] + step[2:])
        track.keypoints_px = np.where(np.isfinite(kp), kp, moved)
        track.box_xyxy, track.time_s = box, float(time_s)
        track.scores = np.asarray(person.scores, np.float64)
        track.missed = 0
        if track.track_id is None:
            track.hits += 1
            self._confirm(track)

    def _confirm(self, track):
        if track.track_id is None and track.hits >= self.confirm_frames:
            track.track_id = self.next_id
            self.next_id += 1

    def _alive(self, track):
        if track.track_id is None:
            return track.missed == 0  # a tentative track is forgotten at its first miss
        return track.missed <= self.max_missed
