"""GUMLP, checkpoints, the training CLI (quick mode) and the evaluation CLI on a small
Human3.6M-layout npz written here, and on held-out mocap."""
import json

import numpy as np
import pytest
import torch

from lifter import evaluate, h36m, train
from lifter.data import Trial, load_trials
from lifter.model import GUMLP, LOSSES, adjacency_kernels, load_lifter, save_lifter

ACTIONS = ("Directions 1", "Walking", "SittingDown 2")


def test_gumlp_shapes_and_split():
    m = GUMLP(width=32, blocks=2).eval()
    x = torch.randn(5, 17, 2)
    mu, s = m(x)
    assert mu.shape == (5, 17, 3) and s.shape == (5, 17)
    mu2, s2 = m.decode(m.encode(x))
    assert torch.allclose(mu, mu2) and torch.allclose(s, s2)
    assert not any("A" in k.split(".")[-1] for k in m.state_dict())  # adjacency is not a weight
    A = adjacency_kernels()
    assert A.shape == (4, 17, 17)
    np.testing.assert_allclose(A.sum(-1)[A.sum(-1) > 0], 1.0, atol=1e-6)


@pytest.mark.parametrize("name, best_sigma", [("likelihood", lambda d: d), ("gaussian", lambda d: d / 3 ** 0.5)])
def test_loss_is_minimised_at_its_sigma(name, best_sigma):
    """Each loss's optimal sigma for a fixed error: the distance itself (Laplace-style) or
    the per-axis RMS (Gaussian); the optimum is found by gradient descent on s."""
    target = torch.zeros(1, 17, 3)
    mu = torch.zeros(1, 17, 3)
    mu[..., 0] = torch.linspace(0.02, 0.4, 17)            # distances 2-40 cm
    s = torch.zeros(1, 17, requires_grad=True)
    opt = torch.optim.Adam([s], lr=0.05)
    for _ in range(800):
        opt.zero_grad()
        LOSSES[name](mu, s, target).backward()
        opt.step()
    np.testing.assert_allclose(s.detach().exp()[0].numpy(), best_sigma(mu[0, :, 0]).numpy(), rtol=1e-3)


def test_checkpoint_round_trip_and_errors(tmp_path):
    m = GUMLP(width=32, blocks=1)
    save_lifter(m, tmp_path / "ok.pt")
    back = load_lifter(tmp_path / "ok.pt")
    x = torch.randn(2, 17, 2)
    with torch.inference_mode():
        assert torch.allclose(m.eval()(x)[0], back(x)[0])
    ck = torch.load(tmp_path / "ok.pt", weights_only=True)
    ck["state_dict"]["embed.1.weight"] = torch.zeros(7, 64)
    torch.save(ck, tmp_path / "shape.pt")
    with pytest.raises(ValueError, match=r"shape\.pt: does not fit GUMLP") as e:
        load_lifter(tmp_path / "shape.pt")
    assert "\n" not in str(e.value)
    torch.save({"hello": 1}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a GUMLP checkpoint"):
        load_lifter(tmp_path / "foreign.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a loadable checkpoint"):
        load_lifter(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="file not found"):
        load_lifter(tmp_path / "missing.pt")


@pytest.fixture(scope="module")
def quick_weights(tmp_path_factory, shared):
    out = tmp_path_factory.mktemp("w") / "quick.pt"
    hist = train.main(["--quick", "--mocap", str(shared / "data" / "hdm05-subset"), str(shared / "data" / "cmu-bvh"),
                       "--val-subjects", "HDM_tr", "bvh_75_19", "--out", str(out)])
    assert out.is_file() and (out.parent / "quick.pt.state").is_file()
    assert len(hist) == 2 and np.isfinite(hist[-1]["low_poses_mpjpe_mm"])  # both held-out subjects are low-pose ones
    return out


def test_training_resumes(quick_weights, shared):
    hist = train.main(["--quick", "--mocap", str(shared / "data" / "hdm05-subset"), "--val-subjects", "HDM_tr",
                       "--out", str(quick_weights), "--resume", "--steps", "70", "--val-every", "10"])
    assert [h["step"] for h in hist][-2:] == [60, 70]  # continued from 60, not restarted


def test_fine_tuning_starts_from_weights_and_keeps_the_best(quick_weights, shared, tmp_path):
    out = tmp_path / "ft.pt"
    hist = train.main(["--quick", "--mocap", str(shared / "data" / "hdm05-subset"), "--val-subjects", "HDM_tr",
                       "--init", str(quick_weights), "--out", str(out), "--steps", "20", "--val-every", "10",
                       "--lr", "0.01"])
    assert [h["step"] for h in hist] == [0, 10, 20]  # the starting weights are validated first
    ft = load_lifter(out)
    assert ft.meta["init"] == {"weights": "quick.pt", "init": None,
                              "trained_steps": load_lifter(quick_weights).meta["trained_steps"]}
    best = min(hist, key=lambda h: h["low_poses_mpjpe_mm"])
    assert ft.meta["trained_steps"] == best["step"]  # OUT holds the best, the start included
    if best["step"] == 0:
        start = load_lifter(quick_weights).state_dict()
        assert all(torch.equal(v, start[k]) for k, v in ft.state_dict().items())


def _write_h36m(folder, shared, subjects=("S9", "S11")):
    """A tiny Human3.6M-layout dataset from real mocap frames, with the published cameras."""
    trial = load_trials([str(shared / "data" / "cmu-bvh")])[0]
    by_subject = {}
    for si, subject in enumerate(subjects):
        by_subject[subject] = []
        for ai, action in enumerate(ACTIONS):
            part = trial.points[ai * 40 + si * 10: ai * 40 + si * 10 + 12]
            by_subject[subject].append(Trial(subject, "", action, part, 30.0))
    h36m.write_npz(folder, by_subject)


def _h36m_published_projection(pc, c):
    """The distortion formula of ../shared/reference/h36m-skeleton.md, written out
    independently of lifter.camera."""
    x, y = pc[..., 0] / pc[..., 2], pc[..., 1] / pc[..., 2]
    r2 = x * x + y * y
    k, (q1, q2) = c["k"], (c["p"][1], c["p"][0])
    radial = 1 + k[0] * r2 + k[1] * r2 ** 2 + k[2] * r2 ** 3
    tan = q1 * x + q2 * y
    xd, yd = x * (radial + tan) + q1 * r2, y * (radial + tan) + q2 * r2
    return np.stack([xd * c["f"][0] + c["c"][0], yd * c["f"][1] + c["c"][1]], -1)


def test_h36m_loader_matches_published_projection(tmp_path, shared):
    _write_h36m(tmp_path, shared)
    seqs = h36m.load_sequences(tmp_path, "gt", ("S9", "S11"))
    assert len(seqs) == 2 * len(ACTIONS) * 4
    cams = h36m.load_cameras()
    for s in seqs:
        np.testing.assert_allclose(s.joints_m[:, 0], 0.0, atol=1e-9)
        published = _h36m_published_projection(s.joints_m + s.root_m[:, None], cams[s.subject][s.camera])
        assert np.abs(published - s.keypoints_px).max() < 0.5  # our OpenCV mapping of the h36m terms


def test_evaluate_on_h36m_layout(tmp_path, shared, quick_weights):
    _write_h36m(tmp_path, shared)
    out = tmp_path / "res.json"
    res = evaluate.main(["--weights", str(quick_weights), "--h36m", str(tmp_path), "--keypoints", "gt",
                         "--subjects", "S9,S11", "--flip", "--json", str(out)])
    saved = json.loads(out.read_text())
    for key in ("mpjpe_mm", "p_mpjpe_mm", "per_action", "per_joint_mpjpe_mm", "sigma_error_pearson",
                "sigma_error_spearman", "frames", "ms_per_frame", "refine", "root_error_mm"):
        assert key in saved
    assert set(saved["per_action"]) == {"Directions", "Walking", "SittingDown"}
    assert saved["frames"] == 2 * len(ACTIONS) * 4 * 12
    assert len(saved["per_joint_mpjpe_mm"]) == 17
    assert 0 < saved["p_mpjpe_mm"] <= saved["mpjpe_mm"] < 1000
    assert res["refine"] == "none"


def test_training_with_h36m_files(tmp_path, shared):
    """--h36m adds Human3.6M's training subjects from the VideoPose3D files."""
    _write_h36m(tmp_path, shared, subjects=("S1", "S5"))
    trials = h36m.h36m_trials(tmp_path, ("S1", "S5", "S6", "S7", "S8"))
    assert {t.subject for t in trials} == {"S1", "S5"} and all(t.points.shape[1:] == (34, 3) for t in trials)
    # Y up: the head is above the ankles in every frame
    assert (trials[0].points[:, 10, 1] > trials[0].points[:, 3, 1]).all()
    hist = train.main(["--quick", "--steps", "4", "--val-every", "4", "--mocap", str(shared / "data" / "cmu-bvh"),
                       "--val-subjects", "bvh_75_19", "--h36m", str(tmp_path), "--out", str(tmp_path / "w.pt")])
    assert hist[-1]["step"] == 4 and (tmp_path / "w.pt").is_file()


def test_evaluate_on_heldout_mocap(tmp_path, shared, quick_weights):
    res = evaluate.main(["--weights", str(quick_weights), "--mocap", str(shared / "data" / "hdm05-subset"),
                         "--subjects", "HDM_tr", "--samples", "300"])
    assert res["frames"] == 300 and set(res["per_action"]) <= {"squat1Reps", "lieDownFloor", "depositFloorR"}


def test_evaluate_bad_inputs_exit_with_one_line(tmp_path, quick_weights, capsys):
    def fails(argv, message):
        capsys.readouterr()
        with pytest.raises(SystemExit) as e:
            evaluate.main(argv)
        err = capsys.readouterr().err
        assert e.value.code == 2 and message in err and err.count("\n") == 1
    (tmp_path / "data_3d_h36m.npz").write_bytes(b"garbage")
    fails(["--weights", str(quick_weights), "--h36m", str(tmp_path)], "data_3d_h36m.npz: unreadable npz")
    np.savez(tmp_path / "data_3d_h36m.npz", other=np.zeros(3))
    fails(["--weights", str(quick_weights), "--h36m", str(tmp_path)], "no 'positions_3d' array")
    fails(["--weights", str(tmp_path / "nope.pt"), "--h36m", str(tmp_path)], "nope.pt: file not found")
