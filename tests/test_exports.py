"""Exports: streamed poses.jsonl + meta.json, npz/csv/bvh at close or from the jsonl alone."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.exports import PoseRecorder, read_jsonl
from app.frame import Frame, PersonPose
from lifter.skeleton import JOINTS, PARENTS
from tests.bvh_check import bvh_joint_positions, random_motion

REPO = Path(__file__).resolve().parents[1]


def make_frames(n, rng):
    X = random_motion(n, rng)  # constant bone lengths: the BVH reproduces them exactly
    frames = []
    for i in range(n):
        people = [] if i == 2 else [PersonPose(
            keypoints_px=rng.uniform(0, 600, (17, 2)).astype(np.float32), scores=rng.uniform(0, 1, 17),
            joints_m=(X[i] - X[i, 0]).astype(np.float32), root_m=X[i, 0].astype(np.float32),
            sigma_m=rng.uniform(0.02, 0.2, 17).astype(np.float32))]
        if i == 3:
            people[0].keypoints_px[5] = np.nan  # a missing 2D joint
            people.append(PersonPose(people[0].keypoints_px + 50, people[0].scores, None,
                                     people[0].joints_m, people[0].root_m + 1, people[0].sigma_m))
        frames.append(Frame(index=i, time_s=i / 30, image=None, people=people,
                            refine={"mode": "uao", "iters": 4}))
    return frames, X


META = {"joint_names": list(JOINTS), "parents": list(PARENTS), "fps": 30.0}


def test_stream_then_finalise(tmp_path):
    frames, X = make_frames(8, np.random.default_rng(0))
    rec = PoseRecorder(tmp_path / "out", META)
    for i, f in enumerate(frames):
        rec.write(f)
        # flushed as it goes: readable line by line while still recording
        assert len((tmp_path / "out/poses.jsonl").read_text().splitlines()) == i + 1
    result = rec.close()
    assert result["files"] == ["poses.npz", "poses.csv", "skeleton_0.bvh", "skeleton_1.bvh"]

    lines = [json.loads(s) for s in (tmp_path / "out/poses.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in lines] == list(range(8))
    assert lines[2]["people"] == []
    p = lines[0]["people"][0]
    assert np.array(p["joints_3d_m"]).shape == (17, 3) and np.array(p["keypoints_2d_px"]).shape == (17, 2)
    assert len(p["scores"]) == len(p["sigma_m"]) == 17 and len(p["root_m"]) == 3
    assert p["refine"] == {"mode": "uao", "iters": 4}
    assert lines[3]["people"][0]["keypoints_2d_px"][5] == [None, None]
    assert json.loads((tmp_path / "out/meta.json").read_text())["joint_names"][0] == "pelvis"

    z = np.load(tmp_path / "out/poses.npz")
    assert z["joints_3d_m"].shape == (8, 2, 17, 3) and z["num_people"].tolist() == [1, 1, 0, 2, 1, 1, 1, 1]
    assert np.isnan(z["joints_3d_m"][2]).all() and np.isnan(z["joints_3d_m"][0, 1]).all()
    np.testing.assert_allclose(z["root_m"][3, 1], X[3, 0] + 1, atol=1e-4)
    assert z["joint_names"].tolist() == list(JOINTS)

    rows = list(csv.DictReader(open(tmp_path / "out/poses.csv")))
    assert len(rows) == 17 * (1 + 1 + 1 + 2 + 1 + 1 + 1 + 1)
    blank = [r for r in rows if r["frame"] == "2"]
    assert len(blank) == 17 and all(r["person"] == "" and r["x_m"] == "" for r in blank)
    r = next(r for r in rows if r["frame"] == "1" and r["joint_name"] == "head")
    assert float(r["z_m"]) == pytest.approx(X[1, 10, 2] - X[1, 0, 2], abs=1e-4)

    fk = bvh_joint_positions(tmp_path / "out/skeleton_0.bvh")
    assert len(fk) == 8
    np.testing.assert_allclose(fk[[0, 1, 3, 7]], X[[0, 1, 3, 7]], atol=0.002)


def test_torn_last_line_is_dropped_and_finalise_cli_rebuilds(tmp_path):
    frames, _ = make_frames(6, np.random.default_rng(1))
    rec = PoseRecorder(tmp_path, META)
    for f in frames:
        rec.write(f)
    rec._file.close()  # as if killed: never finalised
    text = (tmp_path / "poses.jsonl").read_text()
    (tmp_path / "poses.jsonl").write_text(text[: len(text) - 40])  # torn mid-line
    assert len(read_jsonl(tmp_path / "poses.jsonl")) == 5
    out = subprocess.run([sys.executable, "-m", "app.finalise", str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "5 frames" in out.stdout
    assert np.load(tmp_path / "poses.npz")["frame"].tolist() == [0, 1, 2, 3, 4]
    assert len(bvh_joint_positions(tmp_path / "skeleton_0.bvh")) == 5


def test_broken_middle_line_and_missing_meta_are_one_line_errors(tmp_path):
    (tmp_path / "poses.jsonl").write_text('{"frame": 0, "time_s": 0, "people": []}\n{oops\n{"frame": 2}\n')
    with pytest.raises(ValueError, match="line 2 is not valid JSON"):
        read_jsonl(tmp_path / "poses.jsonl")
    out = subprocess.run([sys.executable, "-m", "app.finalise", str(tmp_path / "nothing")], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert out.stderr.strip().count("\n") == 0 and "no meta.json" in out.stderr


def test_unwritable_export_dir(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"export dir .*file/out: not writable"):
        PoseRecorder(tmp_path / "file" / "out", META)


def test_nobody_ever_found_writes_tables_but_no_bvh(tmp_path):
    rec = PoseRecorder(tmp_path, META)
    for i in range(3):
        rec.write(Frame(index=i, time_s=i / 30, image=None))
    assert rec.close()["files"] == ["poses.npz", "poses.csv"]
    z = np.load(tmp_path / "poses.npz")
    assert z["joints_3d_m"].shape == (3, 1, 17, 3) and np.isnan(z["joints_3d_m"]).all()
    assert not list(tmp_path.glob("skeleton*.bvh"))
