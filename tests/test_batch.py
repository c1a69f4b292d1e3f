"""python -m app.batch on Ray: real clips cut from the demo clip, a damaged file, the
shipped lifter and MediaPipe in real Ray actors. One local Ray instance for the module,
started by the app's own start_ray."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app import batch
from app.videos import export_names, find_videos

REPO = Path(__file__).resolve().parents[1]
CLIP_STARTS = (100, 150, 200)  # stretches of the demo clip where MediaPipe finds someone from a cold start
CLIP_FRAMES = 6
EXPORTS = ("poses.jsonl", "meta.json", "poses.npz", "poses.csv", "summary.json")


@pytest.fixture(scope="module")
def ray_instance():
    started, line = batch.start_ray(None, 2)
    assert started and line.startswith("ray: local instance; worker logs in ")
    yield
    import ray
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(shared, tmp_path_factory):
    """3 short clips (one in a sub-folder) and one damaged file."""
    folder = tmp_path_factory.mktemp("videos")
    (folder / "sub").mkdir()
    cap = cv2.VideoCapture(str(shared / "media" / "sports2d_demo.mp4"))
    frames = [cap.read()[1] for _ in range(max(CLIP_STARTS) + CLIP_FRAMES)]
    cap.release()
    for start in CLIP_STARTS:
        path = folder / ("sub" if start == 150 else "") / f"clip{start}.mp4"
        w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, frames[0].shape[1::-1])
        for f in frames[start:start + CLIP_FRAMES]:
            w.write(f)
        w.release()
    (folder / "damaged.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not a video" * 50)
    (folder / "notes.txt").write_text("not a video, not an input")
    return folder


@pytest.fixture(scope="module")
def first_run(ray_instance, clips, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch")
    code = batch.main([str(clips), "--out", str(out), "--workers", "2", "--no-progress"])
    return code, out, json.loads((out / "batch_summary.json").read_text())


def jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_three_clips_exported_whole_and_the_damaged_file_recorded(first_run):
    code, out, summary = first_run
    assert code == 1  # one video failed
    assert summary["engine"] == "ray" and summary["address"] == "local" and summary["workers"] == 2
    videos = summary["videos"]
    assert sorted(videos) == ["clip100", "clip150", "clip200", "damaged"]
    for start in CLIP_STARTS:
        entry, folder = videos[f"clip{start}"], out / f"clip{start}"
        assert entry["status"] == "done" and entry["error"] is None and entry["cpu_s"] > 0
        assert entry["frames"] == CLIP_FRAMES and 0 < entry["frames_with_people"] <= CLIP_FRAMES
        assert all((folder / name).is_file() for name in EXPORTS) and list(folder.glob("skeleton_*.bvh"))
        assert [r["frame"] for r in jsonl(folder / "poses.jsonl")] == list(range(CLIP_FRAMES))
        assert len(np.load(folder / "poses.npz")["frame"]) == CLIP_FRAMES
        assert json.loads((folder / "meta.json").read_text())["source"].endswith(f"clip{start}.mp4")
    damaged = videos["damaged"]
    assert damaged["status"] == "failed" and "cannot be decoded" in damaged["error"] and damaged["frames"] == 0
    totals = summary["totals"]
    assert (totals["videos"], totals["done"], totals["skipped"], totals["failed"]) == (4, 3, 0, 1)
    assert totals["frames"] == 3 * CLIP_FRAMES
    assert totals["frames_with_people"] == sum(videos[f"clip{s}"]["frames_with_people"] for s in CLIP_STARTS)
    assert summary["fps"] > 0 and summary["startup_s"]["workers"] > 0


def test_batch_export_equals_a_run_demo_export(first_run, clips, tmp_path):
    """The third clip ran on a worker that had already done another video: its export is
    the one run_demo.py makes on its own (each video gets a fresh detector)."""
    _, out, _ = first_run
    run = subprocess.run([sys.executable, "run_demo.py", "--source", str(clips / "clip200.mp4"), "--export",
                          str(tmp_path), "--viewer", "none", "--no-progress"], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    alone, batched = jsonl(tmp_path / "poses.jsonl"), jsonl(out / "clip200" / "poses.jsonl")
    assert [r["people"] for r in alone] == [r["people"] for r in batched]


def test_rerun_skips_finished_exports_and_redoes_a_partial_one(first_run, clips, tmp_path, capsys):
    _, out, _ = first_run
    # a run killed mid-video: poses.jsonl with a torn line, no summary.json
    partial = out / "clip150"
    lines = (partial / "poses.jsonl").read_text().splitlines()
    (partial / "poses.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:40])
    (partial / "summary.json").unlink()
    untouched = (out / "clip100" / "poses.npz").stat().st_mtime_ns
    code = batch.main([str(clips), "--out", str(out), "--workers", "2"])
    summary = json.loads((out / "batch_summary.json").read_text())
    assert code == 1
    videos = summary["videos"]
    assert [videos[n]["status"] for n in ("clip100", "clip150", "clip200", "damaged")] == \
        ["skipped", "done", "skipped", "failed"]
    assert videos["clip100"]["frames"] == CLIP_FRAMES  # taken from the finished export
    assert [r["frame"] for r in jsonl(partial / "poses.jsonl")] == list(range(CLIP_FRAMES))
    assert len(np.load(partial / "poses.npz")["frame"]) == CLIP_FRAMES and (partial / "summary.json").is_file()
    assert (out / "clip100" / "poses.npz").stat().st_mtime_ns == untouched
    assert summary["totals"]["frames"] == CLIP_FRAMES  # only what this run processed
    err = capsys.readouterr().err
    assert "2/2 videos, 1 failed" in err  # one bar over the videos of this run
    assert "failed: damaged:" in err and "Traceback" not in err


def test_inputs_folders_patterns_and_stable_names(clips, tmp_path):
    videos = find_videos([str(clips), str(clips / "sub" / "*.mp4"), str(clips / "clip100.mp4")])
    assert [v.name for v in videos] == ["clip100.mp4", "clip200.mp4", "damaged.mp4", "clip150.mp4"]
    twin = tmp_path / "other" / "clip100.mp4"
    twin.parent.mkdir()
    twin.write_bytes(b"")
    names = export_names(sorted(videos + [twin]))
    assert len(set(names.values())) == 5 and names[videos[1]] == "clip200"
    assert names[twin].startswith("clip100-") and names[videos[0]].startswith("clip100-")


@pytest.mark.parametrize("argv, message", [
    (["nowhere/*.mp4", "--out", "o"], "input nowhere/*.mp4: no such file or folder"),
    (["x.mp4", "--out", "o", "--stream", "vmc://127.0.0.1:39539"], "--stream: streaming is for one video"),
    (["x.mp4", "--out", "o", "--workers", "0"], "--workers and --threads-per-worker must be at least 1"),
    (["x.mp4", "--out", "o", "--weights", "missing.pt"], "lifter weights missing.pt: file not found"),
    (["x.mp4", "--out", "o", "--address", "127.0.0.1:1"], "ray cluster 127.0.0.1:1: cannot connect"),
    (["--export", "e", "x.mp4", "--out", "o"], "--export: the batch sets it per video"),
])
def test_bad_batch_options_are_one_line_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("x.mp4").write_bytes(b"")
    assert batch.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
