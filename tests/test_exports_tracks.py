"""Multi-person exports: track ids through poses.jsonl -> app.finalise -> npz / csv /
one BVH per track (read back by bvhio), and BVH timing from the recorded time_s."""
import csv
import subprocess
import sys
from pathlib import Path

import bvhio
import numpy as np
import pytest

from app.exports import PoseRecorder, finalise, to_arrays
from app.frame import Frame, PersonPose
from lifter.skeleton import JOINTS, PARENTS
from tests.bvh_check import bvh_joint_positions, random_motion

REPO = Path(__file__).resolve().parents[1]
META = {"joint_names": list(JOINTS), "parents": list(PARENTS), "fps": 30.0}


def person(X, track_id, rng):
    return PersonPose(keypoints_px=rng.uniform(0, 600, (17, 2)).astype(np.float32),
                      scores=rng.uniform(0.5, 1, 17).astype(np.float32),
                      joints_m=(X - X[0]).astype(np.float32), root_m=X[0].astype(np.float32),
                      sigma_m=rng.uniform(0.02, 0.2, 17).astype(np.float32), track_id=track_id)


def two_tracks(n=20):
    """Track 3 throughout but for frame 5 (nobody there); track 7 leaves at frame 8 and
    re-enters at 12; the detector's order of the two changes from frame 10 on."""
    rng = np.random.default_rng(0)
    A, B = random_motion(n, rng), random_motion(n, rng) + [1.0, 0, 1.0]
    frames = []
    for i in range(n):
        people = [] if i == 5 else [person(A[i], 3, rng)]
        if i != 5 and not 8 <= i < 12:
            people.append(person(B[i], 7, rng))
        if i >= 10:
            people.reverse()
        frames.append(Frame(index=i, time_s=i / 30, image=None, people=people))
    return frames, A, B


def test_two_tracks_round_trip_through_finalise(tmp_path):
    frames, A, B = two_tracks()
    rec = PoseRecorder(tmp_path, META)
    for f in frames:
        rec.write(f)
    result = rec.close()
    assert result["files"] == ["poses.npz", "poses.csv", "skeleton_3.bvh", "skeleton_7.bvh"]
    assert result["tracks"] == [3, 7]

    z = np.load(tmp_path / "poses.npz")
    assert z["track_ids"].tolist() == [3, 7]                   # slot p holds track track_ids[p]
    assert z["joints_3d_m"].shape == (20, 2, 17, 3)
    seen7 = [i for i in range(20) if i != 5 and not 8 <= i < 12]
    assert (z["track_id"][:, 1] >= 0).nonzero()[0].tolist() == seen7
    assert (z["track_id"][seen7, 1] == 7).all() and (z["track_id"][[5, 8, 9, 10, 11], 1] == -1).all()
    assert np.isnan(z["joints_3d_m"][5]).all() and z["num_people"][5] == 0
    np.testing.assert_allclose(z["root_m"][15, 1], B[15, 0], atol=1e-5)   # slot follows the track ...
    np.testing.assert_allclose(z["root_m"][15, 0], A[15, 0], atol=1e-5)
    assert z["person"][15].tolist() == [1, 0]                              # ... not the detector's order

    rows = list(csv.DictReader(open(tmp_path / "poses.csv")))
    assert len(rows) == 17 * (len(seen7) + 19 + 1)
    frame15 = [r for r in rows if r["frame"] == "15" and r["joint_name"] == "pelvis"]
    assert [(r["person"], r["track_id"]) for r in frame15] == [("0", "7"), ("1", "3")]
    assert float(frame15[0]["root_z_m"]) == pytest.approx(B[15, 0, 2], abs=1e-4)
    assert {r["track_id"] for r in rows if r["frame"] == "5"} == {""}

    for track, X, seen in ((3, A, [i for i in range(20) if i != 5]), (7, B, seen7)):
        fk = bvh_joint_positions(tmp_path / f"skeleton_{track}.bvh")   # bvhio, an independent reader
        assert len(fk) == seen[-1] - seen[0] + 1
        np.testing.assert_allclose(fk[np.array(seen) - seen[0]], X[seen], atol=0.002)

    # everything rebuilt from poses.jsonl + meta.json alone
    for name in result["files"]:
        (tmp_path / name).unlink()
    out = subprocess.run([sys.executable, "-m", "app.finalise", str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "skeleton_3.bvh, skeleton_7.bvh" in out.stdout
    assert np.load(tmp_path / "poses.npz")["track_ids"].tolist() == [3, 7]


def test_bvh_plays_at_source_speed_with_dropped_frames(tmp_path):
    """A live run kept 1 frame in 2-4 of a 30 fps camera: the BVH must still last as long
    as the recording, at 30 fps, every kept pose at its own time."""
    rng = np.random.default_rng(1)
    steps = rng.integers(2, 5, 24)
    ticks = np.r_[0, np.cumsum(steps)]                           # camera frame numbers kept
    X = random_motion(len(ticks), rng)
    time_s = 100.0 + ticks / 30                                  # wall clock
    rec = PoseRecorder(tmp_path, META)
    for i, t in enumerate(time_s):
        rec.write(Frame(index=int(ticks[i]), time_s=float(t), image=None, people=[person(X[i], 0, rng)]))
    rec.close()
    bvh = bvhio.readAsBvh(str(tmp_path / "skeleton_0.bvh"))
    assert bvh.FrameTime == pytest.approx(1 / 30, abs=1e-6)
    assert bvh.FrameCount == ticks[-1] + 1
    assert (bvh.FrameCount - 1) * bvh.FrameTime == pytest.approx(time_s[-1] - time_s[0], abs=1e-4)
    fk = bvh_joint_positions(tmp_path / "skeleton_0.bvh")
    np.testing.assert_allclose(fk[ticks], X, atol=0.002)        # each pose lands at its time
    between = fk[ticks[0] + 1]                                   # a filled frame: between its neighbours
    assert np.linalg.norm(between - X[0], axis=-1).max() <= np.linalg.norm(X[1] - X[0], axis=-1).max() + 0.002


def test_long_absence_holds_the_last_pose(tmp_path):
    rng = np.random.default_rng(2)
    X = random_motion(2, rng)
    rec = PoseRecorder(tmp_path, META)
    rec.write(Frame(0, 0.0, None, [person(X[0], 4, rng)]))
    rec.write(Frame(60, 2.0, None, [person(X[1], 4, rng)]))   # gone for 2 s, then back
    rec.close()
    fk = bvh_joint_positions(tmp_path / "skeleton_4.bvh")
    assert len(fk) == 61
    np.testing.assert_allclose(fk[:60], np.broadcast_to(X[0], (60, 17, 3)), atol=0.002)
    np.testing.assert_allclose(fk[60], X[1], atol=0.002)


def test_records_without_track_ids_and_duplicate_ids(tmp_path):
    people = [{"keypoints_2d_px": [[1, 2]] * 17, "scores": [1] * 17, "joints_3d_m": [[0, 0, 0]] * 17,
               "root_m": [0, 0, 3], "sigma_m": [0.1] * 17}] * 2
    arrays = to_arrays([{"frame": 0, "time_s": 0.0, "people": people}])   # older poses.jsonl
    assert arrays["track_ids"].tolist() == [0, 1] and arrays["track_id"].tolist() == [[0, 1]]
    twice = [dict(p, track_id=9) for p in people]
    with pytest.raises(ValueError, match="frame 0: a track id appears twice"):
        to_arrays([{"frame": 0, "time_s": 0.0, "people": twice}])


def test_stale_bvh_of_an_earlier_run_is_removed(tmp_path):
    (tmp_path / "skeleton.bvh").write_text("old")
    (tmp_path / "skeleton_9.bvh").write_text("old")
    frames, _, _ = two_tracks(6)
    rec = PoseRecorder(tmp_path, META)
    for f in frames:
        rec.write(f)
    rec.close()
    assert sorted(p.name for p in tmp_path.glob("skeleton*.bvh")) == ["skeleton_3.bvh", "skeleton_7.bvh"]
    assert finalise(tmp_path)["tracks"] == [3, 7]
