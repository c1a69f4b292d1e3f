"""The sequence evaluation protocol: noise model, per-sequence lifting in order, acceleration error."""
import json

import numpy as np
import pytest

from lifter import evaluate, h36m
from lifter.config import DEFAULT_WEIGHTS, weights_path
from lifter.data import Trial, load_trials
from lifter.model import load_lifter
from lifter.noise2d import NoiseModel, noisy_keypoints, write_noisy_2d
from lifter.sequences import accel_error_mm, accel_errors_m, h36m_sequences, predict_sequences
from lifter.refine import RefineOptions, lift

FRAMES = 16


@pytest.fixture(scope="module")
def h36m_dir(tmp_path_factory, shared):
    """A tiny Human3.6M-layout folder: two subjects, two actions, 20 contiguous mocap frames each."""
    folder = tmp_path_factory.mktemp("h36m")
    trial = load_trials([str(shared / "data" / "cmu-bvh")])[0]
    h36m.write_npz(folder, {s: [Trial(s, "", a, trial.points[k * 30: k * 30 + 20], 30.0)
                                for k, a in enumerate(("Walking", "Eating"))] for s in ("S9", "S11")})
    return folder


def test_noise_model_is_detector_like():
    rng = np.random.default_rng(0)
    clean = np.zeros((2000, 17, 2))
    noisy, scores = noisy_keypoints(clean, 50.0, 1000, rng)
    err = np.linalg.norm(noisy - clean, axis=-1)
    assert 6.0 < err.mean() < 8.0                            # ~7 px on 1000 px frames
    d = (noisy - clean)[..., 0]
    lag1 = np.mean([np.corrcoef(d[:-1, j], d[1:, j])[0, 1] for j in range(17)])
    assert lag1 > 0.5                                        # drift: temporally correlated, not white
    assert (err > 25).mean() > 0.002                         # short outliers exist
    assert np.corrcoef(err.ravel(), scores.ravel())[0, 1] < -0.5  # scores fall with the error
    half, _ = noisy_keypoints(clean, 50.0, 500, np.random.default_rng(0))
    np.testing.assert_allclose(half, noisy / 2)               # pixel figures scale with the width
    quiet, _ = noisy_keypoints(clean, 50.0, 1000, rng, NoiseModel(0, 1, 0, 0, 0, 1))
    assert np.abs(quiet).max() == 0


def test_accel_error_definition():
    t = np.arange(10, dtype=float)
    gt = np.zeros((10, 17, 3))
    pred = gt.copy()
    pred[..., 0] = 0.001 * t[:, None] ** 2            # a = 2 mm/frame^2 along x
    np.testing.assert_allclose(accel_errors_m(pred, gt), 0.002)
    pred[..., 1] = 0.5 * t[:, None]                    # constant velocity: no acceleration
    np.testing.assert_allclose(accel_errors_m(pred, gt), 0.002)


def test_sequences_are_lifted_in_order_from_2d_only(h36m_dir):
    seqs = h36m_sequences(str(h36m_dir), "gt", ("S9", "S11"), FRAMES)
    assert len(seqs) == 2 * 2 * 4 and all(len(s.keypoints_px) == FRAMES and s.fps == 50 for s in seqs)
    calls = []

    def recording_lift(model, keypoints_px, scores, intr, options, device):
        calls.append((keypoints_px, scores, intr))
        return lift(model, keypoints_px, scores, intr, options, device)

    model = load_lifter(str(weights_path(DEFAULT_WEIGHTS)))
    preds = predict_sequences(model, seqs, RefineOptions(mode="uao-feature", iters=2), recording_lift)
    assert len(calls) == len(seqs)                     # one call per sequence, its frames in order
    for (kp, scores, intr), s in zip(calls, seqs):
        assert kp is s.keypoints_px and intr is s.intr and kp.shape == (FRAMES, 17, 2)
    assert all(p["joints"].shape == (FRAMES, 17, 3) and p["root"].shape == (FRAMES, 3) for p in preds)
    assert accel_error_mm(preds, seqs) > 0


def test_evaluate_sequence_protocol_with_noisy_2d(h36m_dir, tmp_path):
    err_px = write_noisy_2d(str(h36m_dir), "noisy", seed=1)
    assert 5 < err_px < 10
    runs = {}
    for kp in ("gt", "noisy"):
        out = tmp_path / f"{kp}.json"
        evaluate.main(["--h36m", str(h36m_dir), "--keypoints", kp, "--subjects", "S9,S11",
                       "--sequence-frames", str(FRAMES), "--refine", "none", "--smooth", "off", "--json", str(out)])
        runs[kp] = json.loads(out.read_text())
    for r in runs.values():
        assert r["sequence_frames"] == FRAMES and r["frames"] == 2 * 2 * 4 * FRAMES and r["smooth"] == "off"
        for key in ("mpjpe_mm", "p_mpjpe_mm", "per_action", "per_joint_mpjpe_mm", "sigma_error_pearson",
                    "root_error_mm", "accel_error_mm"):
            assert np.isfinite(r[key]) if not isinstance(r[key], dict) else r[key]
    # noisy 2D shakes the lifted joints: far more acceleration error than exact 2D
    assert runs["noisy"]["accel_error_mm"] > 2 * runs["gt"]["accel_error_mm"]
    assert runs["noisy"]["mpjpe_mm"] > runs["gt"]["mpjpe_mm"]


@pytest.mark.parametrize("argv, message", [
    (["--sequence-frames", "2"], "--sequence-frames 2: must be at least 3"),
    (["--smooth", "causal"], "--smooth causal: needs the sequence protocol"),
    (["--keypoints", "../x"], "a file suffix"),
])
def test_sequence_options_are_checked(h36m_dir, capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        evaluate.main(["--h36m", str(h36m_dir)] + argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_mocap_sequences_render_contiguous_frames(shared):
    """Held-out mocap as sequences: 4 fixed cameras per trial, exact 2D = the markers' projection."""
    exact = evaluate.evaluate(evaluate.options(mocap=[str(shared / "data" / "cmu-bvh")], subjects="bvh_75_19",
                                               sequence_frames=FRAMES, keypoints="gt"))
    noisy = evaluate.evaluate(evaluate.options(mocap=[str(shared / "data" / "cmu-bvh")], subjects="bvh_75_19",
                                               sequence_frames=FRAMES, keypoints="noisy"))
    assert exact["sequences"] == noisy["sequences"] == 4 and exact["frames"] == 4 * FRAMES
    assert exact["keypoints"] == "gt" and exact["sequence_frames"] == FRAMES
    assert noisy["accel_error_mm"] > 2 * exact["accel_error_mm"] > 0


def test_smoothing_and_sequence_refinement_lower_the_acceleration_error(shared):
    """The evaluator's --smooth (lifter.temporal) and --refine uao-sequence on noisy held-out
    mocap sequences: both steady the lifted joints the noise shakes."""
    def run(**kw):
        return evaluate.evaluate(evaluate.options(mocap=[str(shared / "data" / "cmu-bvh")], subjects="bvh_75_19",
                                                  sequence_frames=FRAMES, keypoints="noisy", **kw))
    off = run()
    assert off["smooth"] == "off"
    for kw in ({"smooth": "causal"}, {"smooth": "offline"}, {"refine": "uao-sequence"}):
        assert run(**kw)["accel_error_mm"] < 0.7 * off["accel_error_mm"], kw
