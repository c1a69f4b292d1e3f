"""app.tracker: stable ids on synthetic scenes (crossing, occlusion, birth/death, ids never
reused, nobody, leaving and re-entering), then on the real clip with the real detector."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.frame import PersonPose
from app.tracker import Tracker
from detectors import make_detector
from lifter.config import shared_dir

CLIP = shared_dir() / "media" / "sports2d_demo.mp4"
FPS = 30.0
# A standing person in lifter joint order, in body heights, origin at the pelvis.
POSE = np.array([
    (0.0, 0.0), (-0.06, 0.0), (-0.07, 0.25), (-0.07, 0.48), (0.06, 0.0), (0.07, 0.25),
    (0.07, 0.48), (0.0, -0.13), (0.0, -0.27), (0.0, -0.33), (0.0, -0.42), (0.1, -0.26),
    (0.14, -0.1), (0.15, 0.05), (-0.1, -0.26), (-0.14, -0.1), (-0.15, 0.05)])


def person(x_px, y_px=300.0, height_px=200.0):
    kp = (POSE * height_px + (x_px, y_px)).astype(np.float32)
    lo, hi = kp.min(0), kp.max(0)
    pad = 0.1 * (hi - lo)
    return PersonPose(kp, np.full(17, 0.9, np.float32), np.concatenate([lo - pad, hi + pad]))


def run(tracker, frames, start=0):
    """frames: list of lists of PersonPose -> list of {track_id: x of the pelvis}."""
    return [{p.track_id: float(p.keypoints_px[0, 0]) for p in tracker.update(people, (start + i) / FPS)}
            for i, people in enumerate(frames)]


def test_a_steady_person_is_born_after_confirmation_and_keeps_one_id():
    out = run(Tracker(confirm_frames=3), [[person(100 + 3 * i)] for i in range(20)])
    assert out[:2] == [{}, {}]  # tentative: not shown yet
    assert all(set(o) == {1} for o in out[2:])


def test_two_people_crossing_keep_their_ids():
    # A walks right, B walks left a little farther away (smaller); they overlap mid-way.
    frames = [[person(100 + 12 * i, 300, 200), person(500 - 12 * i, 290, 170)] for i in range(34)]
    out = run(Tracker(), frames)
    assert all(len(o) == 2 for o in out[2:])
    start, end = out[2], out[-1]
    a = min(start, key=start.get)  # the id that started on the left ...
    assert end[a] == max(end.values())  # ... ends on the right
    assert set(end) == {1, 2}


def test_occlusion_keeps_the_id_and_the_other_person_is_untouched():
    frames = [[person(100 + 5 * i), person(500)] for i in range(10)]
    frames += [[person(500)] for _ in range(6)]  # A hidden behind something for 6 frames
    frames += [[person(100 + 5 * i), person(500)] for i in range(16, 26)]
    out = run(Tracker(max_missed=10), frames)
    ids_before, ids_after = set(out[5]), set(out[-1])
    assert ids_before == ids_after == {1, 2}
    assert all(len(o) == 1 for o in out[10:16])
    assert all(o[2 if out[5][1] < out[5][2] else 1] == 500 for o in out[10:16])


def test_a_flicker_is_never_born_and_a_lost_track_dies():
    tracker = Tracker(confirm_frames=3, max_missed=4)
    out = run(tracker, [[person(100)], [person(100)], [], []])  # two frames: not confirmed
    assert out == [{}, {}, {}, {}] and tracker.next_id == 1 and tracker.tracks == []
    out = run(tracker, [[person(300)]] * 3 + [[]] * 5, start=4)
    assert out[2] == {1: 300.0}
    assert tracker.tracks == []  # missed 5 > max_missed 4 frames: ended


def test_ids_are_never_reused():
    tracker = Tracker(confirm_frames=2, max_missed=1)
    seen = []
    t = 0
    for k in range(5):  # someone appears, stays a while, goes; five times, each elsewhere
        x = 80 + 120 * k
        for people in [[person(x)]] * 4 + [[]] * 3:
            seen += [p.track_id for p in tracker.update(people, t / FPS)]
            t += 1
    ids = list(dict.fromkeys(seen))
    assert ids == [1, 2, 3, 4, 5]


def test_a_frame_with_nobody_changes_nothing_for_a_short_gap():
    tracker = Tracker(max_missed=3)
    out = run(tracker, [[person(200)]] * 4 + [[]] + [[person(200)]] * 2)
    assert out[4] == {} and out[3] == out[5] == out[6] == {1: 200.0}


def test_leaving_and_re_entering():
    # Walks out on the right and comes back at once: the same person, the same id.
    tracker = Tracker(max_missed=30)
    frames = [[person(400 + 20 * i)] for i in range(10)] + [[]] * 5 + [[person(560 - 20 * i)] for i in range(8)]
    out = run(tracker, frames)
    assert {k for o in out for k in o} == {1}
    # Gone for longer than max_missed: a new person as far as the tracker knows, a new id.
    later = run(tracker, [[]] * 40 + [[person(100)]] * 4, start=len(frames))
    assert set(later[-1]) == {2}


def test_bad_settings_are_one_line_errors():
    for kwargs in ({"confirm_frames": 0}, {"max_missed": -1}, {"min_similarity": 2.0}):
        with pytest.raises(ValueError, match="tracker"):
            Tracker(**kwargs)


def test_the_clip_holds_two_tracks_the_man_and_the_woman():
    det, tracker = make_detector("mediapipe"), Tracker()
    cap = cv2.VideoCapture(str(CLIP))
    frames, first = [], {}
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                break
            image = cv2.resize(image, (640, 360), interpolation=cv2.INTER_AREA)
            people = [PersonPose(p.keypoints_px, p.scores, p.bbox_xyxy) for p in det(image)]
            shown = tracker.update(people, len(frames) / FPS)
            for p in shown:
                first.setdefault(p.track_id, (len(frames), float(np.nanmean(p.keypoints_px[:, 0]))))
            frames.append([p.track_id for p in shown])
    finally:
        cap.release()
        det.close()
    assert len(frames) == 230
    counts = {}
    for ids in frames:
        assert len(ids) == len(set(ids))  # nobody twice in a frame
        for i in ids:
            counts[i] = counts.get(i, 0) + 1
    top = sorted(counts, key=counts.get, reverse=True)[:2]
    assert sum(counts[i] for i in top) >= 0.9 * sum(counts.values()), counts
    assert sum(len(ids) >= 2 for ids in frames) >= 100
    man, woman = sorted(top, key=lambda i: first[i][0])
    assert first[man][0] < 20 and first[man][1] < 320     # on the box, from the start
    assert 50 <= first[woman][0] <= 75 and first[woman][1] > 400  # walks in on the right


def test_max_people_option_defaults_to_two_and_rejects_zero():
    from app.cli import parse_args
    assert parse_args(["--source", "clip.mp4"]).max_people == 2
    assert parse_args(["--source", "clip.mp4", "--max-people", "4"]).max_people == 4
    with pytest.raises(ValueError, match="--max-people 0"):
        parse_args(["--source", "clip.mp4", "--max-people", "0"])
