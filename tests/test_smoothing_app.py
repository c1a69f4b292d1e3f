"""app.smoothing.FrameSmoother: the pipeline's per-track smoothing (causal at once,
offline held back for look-ahead), tracks kept apart, frame order kept."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.frame import Frame, PersonPose
from app.smoothing import FrameSmoother
from lifter.model import GUMLP, save_lifter
from lifter.temporal import smooth_track
from tests.mjpeg_server import CLIP
from tests.test_temporal import acc_mm, pose

FPS = 30.0


def frames_of_two_tracks(T, rng):
    """Tracks 1 (root 3 m away) and 2 (root 6 m away), noisy; the detector lists them in
    a different order every other frame; frame 4 has nobody."""
    truth = {1: (pose(), np.array([-1.0, 0.0, 3.0])), 2: (pose(30.0), np.array([1.0, 0.0, 6.0]))}
    frames = []
    for t in range(T):
        people = []
        for track, (P, root) in truth.items():
            people.append(PersonPose(np.zeros((17, 2), np.float32), np.ones(17, np.float32),
                                     joints_m=(P + rng.normal(0, 0.03, P.shape)).astype(np.float32),
                                     root_m=(root + rng.normal(0, 0.03, 3)).astype(np.float32),
                                     sigma_m=np.full(17, 0.03, np.float32), track_id=track))
        if t % 2:
            people.reverse()
        frames.append(Frame(t, t / FPS, None, [] if t == 4 else people))
    return frames, truth


def test_causal_releases_at_once_and_keeps_tracks_apart():
    frames, truth = frames_of_two_tracks(60, np.random.default_rng(0))
    raw = {id(p): p.joints_m.copy() for f in frames for p in f.people}
    s = FrameSmoother("causal", FPS)
    for f in frames:
        assert s.push(f) == [f]
    assert s.flush() == []
    for f in frames[30:]:
        for p in f.people:
            P, root = truth[p.track_id]
            assert np.abs(p.root_m - root).max() < 0.2       # never pulled towards the other, 3 m away
            assert np.linalg.norm(p.joints_m - P, axis=-1).mean() < np.linalg.norm(raw[id(p)] - P, axis=-1).mean()


def test_offline_holds_back_then_matches_the_whole_sequence_smoother():
    frames, _ = frames_of_two_tracks(80, np.random.default_rng(1))
    track1 = [next(p for p in f.people if p.track_id == 1) if f.people else None for f in frames]
    J = np.array([p.joints_m if p else np.full((17, 3), np.nan) for p in track1], np.float64)
    R = np.array([p.root_m if p else np.full(3, np.nan) for p in track1], np.float64)
    whole, whole_root = smooth_track(J, np.full((80, 17), 0.03), R, np.ones((80, 17)), "offline", FPS)
    s = FrameSmoother("offline", FPS, lag_frames=30)
    out = []
    for i, f in enumerate(frames):
        ready = s.push(f)
        assert len(ready) == (1 if i >= 30 else 0)
        out += ready
    out += s.flush()
    assert [f.index for f in out] == list(range(80))
    mine = np.array([next(p for p in f.people if p.track_id == 1).joints_m for f in out if f.people])
    seen = [i for i in range(80) if frames[i].people]
    # a 30-frame look-ahead is as good as the whole sequence's, up to the running bone lengths
    assert np.linalg.norm(mine - whole[seen], axis=-1).mean() < 0.005


def test_off_passes_frames_untouched_and_bad_mode_is_refused():
    frames, _ = frames_of_two_tracks(3, np.random.default_rng(2))
    before = frames[0].people[0].joints_m.copy()
    assert FrameSmoother("off", FPS).push(frames[0]) == [frames[0]]
    np.testing.assert_array_equal(frames[0].people[0].joints_m, before)
    with pytest.raises(ValueError, match="--smooth 'wobbly'"):
        FrameSmoother("wobbly", FPS)


def test_people_without_track_id_use_their_slot():
    frames, truth = frames_of_two_tracks(40, np.random.default_rng(3))
    for f in frames:
        f.people.sort(key=lambda p: p.track_id)
        for p in f.people:
            p.track_id = None
    s = FrameSmoother("causal", FPS)
    for f in frames:
        s.push(f)
    assert sorted(s.tracks) == [0, 1]
    assert abs(frames[-1].people[1].root_m[2] - 6.0) < 0.1


def test_the_demo_smooths_what_it_exports(tmp_path):
    """run_demo.py on 12 frames of the clip (a tiny untrained lifter: jitter is what is
    measured, not accuracy): --smooth off vs the file default (offline)."""
    weights = tmp_path / "w.pt"
    save_lifter(GUMLP(width=64, blocks=1), weights)
    repo = Path(__file__).resolve().parents[1]
    out = {}
    for mode in ("off", None):
        d = tmp_path / str(mode)
        cmd = [sys.executable, "run_demo.py", "--weights", str(weights), "--viewer", "none", "--no-progress",
               "--source", str(CLIP), "--max-frames", "12", "--refine", "none", "--export", str(d)]
        done = subprocess.run(cmd + (["--smooth", mode] if mode else []), cwd=repo, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        out[mode] = (json.loads((d / "meta.json").read_text()), np.load(d / "poses.npz"),
                     json.loads((d / "summary.json").read_text()))
    assert out["off"][0]["smooth"] == "off" and out[None][0]["smooth"] == "offline"
    for _, z, summary in out.values():
        assert z["frame"].tolist() == list(range(12))           # every frame, in order, after the flush
        assert summary["tracks"] == z["track_ids"].tolist()
        assert f"skeleton_{z['track_ids'][0]}.bvh" in summary["exports"]
    raw, smooth = out["off"][1]["joints_3d_m"][:, 0], out[None][1]["joints_3d_m"][:, 0]
    assert acc_mm(smooth) < 0.5 * acc_mm(raw)
