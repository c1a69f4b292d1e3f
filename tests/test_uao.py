"""UAO refiner: root recovery, refinement behaviour, missing input, and the hand-written
fast paths checked against the module and autograd. Small random lifters: these tests
check the optimiser's behaviour, not the shipped weights' accuracy."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from lifter.camera import Intrinsics, intrinsics_from_fov, pixels_to_rays, project, solve_root
from lifter.model import GUMLP, load_lifter, save_lifter
from lifter.normalise import normalise_keypoints
from lifter.refine import (FoldedGUMLP, FrameProblem, LiftResult, RefineOptions, lift, projection_weights,
                           refine_frames)

STICK = np.array([[0, 0], [-.1, 0], [-.1, .45], [-.1, .9], [.1, 0], [.1, .45], [.1, .9],
                  [0, -.25], [0, -.5], [0, -.6], [0, -.7], [.18, -.48], [.2, -.2], [.22, .05],
                  [-.18, -.48], [-.2, -.2], [-.22, .05]])
INTR = intrinsics_from_fov(1280, 720)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("uao") / "w.pt"
    save_lifter(GUMLP(width=64, blocks=1), path)
    return load_lifter(path)


def frames(n, seed=0, noise_px=15.0):
    """(n, 17, 2) stick figures of random size and place, with detector-like jitter."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(250, 450, (n, 1, 1))
    centre = np.stack([rng.uniform(400, 880, n), rng.uniform(250, 450, n)], -1)[:, None]
    kp = STICK[None] * size + centre + rng.normal(0, noise_px, (n, 17, 2))
    return kp, rng.uniform(0.5, 1.0, (n, 17))


def test_root_recovered_exactly_from_noise_free_projections():
    rng = np.random.default_rng(1)
    B = 6
    joints = rng.normal(0, 0.3, (B, 17, 3))
    joints -= joints[:, :1]
    root = np.stack([rng.uniform(-1, 1, B), rng.uniform(-0.5, 0.5, B), rng.uniform(3, 8, B)], -1)
    # per-frame cameras, one with lens distortion
    intr = Intrinsics(rng.uniform(600, 1500, (B, 1)), rng.uniform(600, 1500, (B, 1)),
                      rng.uniform(600, 700, (B, 1)), rng.uniform(330, 390, (B, 1)), 1280, 720,
                      (-0.05, 0.01, 0.0, 0.0, 0.0))
    px = project(joints + root[:, None], intr)
    rays = pixels_to_rays(px, intr)
    w = rng.uniform(0.3, 1.0, (B, 17))
    w[:, 5] = 0.0  # an ignored joint must not matter
    np.testing.assert_allclose(solve_root(joints, rays, w), root, atol=1e-6)
    problem = FrameProblem(rays, w, "cpu")
    got = problem.root(torch.tensor(joints, dtype=torch.float32)).numpy()
    assert np.all(np.abs(got - root) < 1e-3 * root[:, 2:])  # float32 arithmetic


def test_linear_root_matches_solve_root_including_depth_guard():
    rng = np.random.default_rng(2)
    rays = rng.normal(0, 0.2, (4, 17, 2))
    w = rng.uniform(0, 1, (4, 17))
    rel = rng.normal(0, 0.4, (4, 17, 3))
    rel[3, 7, 2] = -5.0  # a joint far in front of the pelvis: the guard must push the root back
    expected = solve_root(rel, rays, w)
    got = FrameProblem(rays, w, "cpu").root(torch.tensor(rel, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert got[3, 2] >= 5.3 - 1e-4


def test_folded_network_matches_the_module_and_autograd_at_the_shipped_depth():
    """The shipped architecture (GUMLP's defaults: width 256, 3 blocks), random weights."""
    torch.manual_seed(4)
    model = GUMLP().eval()
    assert model.config["blocks"] == 3
    fast = FoldedGUMLP(model)
    x = torch.randn(3, 17, 2)
    with torch.no_grad():
        f_ref = model.encode(x)
        mu_ref, s_ref = model.decode(f_ref)
        cache = []
        f = fast.encode(x, cache)
        mu, s, norm = fast.decode(f)
    torch.testing.assert_close(f, f_ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(mu, mu_ref, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(s, s_ref, atol=1e-5, rtol=1e-4)
    dmu = torch.randn(3, 17, 3)
    z = x.clone().requires_grad_(True)
    ref = torch.autograd.grad((model(z)[0] * dmu).sum(), z)[0]
    with torch.no_grad():
        got = fast.encode_vjp(fast.decode_vjp(dmu, norm), cache)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-3)
    # it reads the module's own weights: a changed module is followed, nothing goes stale
    with torch.no_grad():
        model.mean_head.fc2.bias.add_(1.0)
        changed = FoldedGUMLP(model).decode(FoldedGUMLP(model).encode(x))[0]
    torch.testing.assert_close(changed, mu_ref + 1.0, atol=1e-4, rtol=1e-4)


def test_gauss_newton_jacobian_matches_finite_differences_with_the_depth_guard_active():
    rng = np.random.default_rng(8)
    pose = rng.normal(0, 0.3, (3, 17, 3)) + [0.2, 0.1, 4.0]
    rays = pose[..., :2] / pose[..., 2:] + rng.normal(0, 0.01, (3, 17, 2))
    problem = FrameProblem(rays, rng.uniform(0.2, 1, (3, 17)), "cpu", dtype=torch.float64)
    mu = torch.tensor(pose - pose[:, :1])
    mu[1, 9, 2] = -6.0  # a joint far in front of the pelvis: the guard sets the root depth
    rel = mu - mu[:, :1]
    T_free = torch.einsum("bjil,bjl->bi", problem.G, rel)
    guarded = problem.root(rel)[:, 2] > T_free[:, 2] + 1e-9
    assert guarded.tolist() == [False, True, False]
    J = problem.linearise(mu, 2.0)[1]                                  # (B, 34, 51)
    eps = 1e-6
    for m, c in ((0, 2), (9, 2), (9, 0), (4, 1)):
        d = torch.zeros_like(mu)
        d[:, m, c] = eps
        fd = (problem.linearise(mu + d, 2.0)[0] - problem.linearise(mu - d, 2.0)[0]) / (2 * eps)
        torch.testing.assert_close(J[:, :, 3 * m + c], fd, atol=1e-6, rtol=1e-5)


def test_hand_gradients_match_autograd_of_the_objective():
    rng = np.random.default_rng(3)
    problem = FrameProblem(rng.normal(0, 0.2, (4, 17, 2)), rng.uniform(0, 1, (4, 17)), "cpu")
    mu = torch.randn(4, 17, 3) * 0.3
    mu[3, 4, 2] = -4.0  # exercises the depth guard
    mu0 = mu + 0.02 * torch.randn(4, 17, 3)
    s = torch.randn(4, 17) * 0.5 - 3
    root = torch.tensor([[0.1, 0.2, 4.0]] * 4)
    for opts, r in ((RefineOptions(mode="uao"), None), (RefineOptions(mode="uao", root="joint"), root),
                    (RefineOptions(mode="uao", lambda_proj=0.0), None)):
        m = mu.clone().requires_grad_(True)
        rr = None if r is None else r.clone().requires_grad_(True)
        inputs = [m] if rr is None else [m, rr]
        ref = torch.autograd.grad(problem.loss(m, mu0, s, opts, rr).sum(), inputs, allow_unused=True)
        got = problem.gradients(mu, mu0, s, opts, r)
        for a, b in zip(got, ref):
            torch.testing.assert_close(a, torch.zeros_like(a) if b is None else b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("mode,solver", [("uao", "adam"), ("uao-feature", "adam"), ("uao-feature", "gn")])
def test_refinement_lowers_reprojection_error(model, mode, solver):
    kp, sc = frames(8)
    res = lift(model, kp, sc, INTR, RefineOptions(mode=mode, iters=10, lr=0.05, solver=solver))
    assert isinstance(res, LiftResult) and res.iters == 10
    assert res.joints_m.shape == (8, 17, 3) and res.root_m.shape == (8, 3) and res.sigma_m.shape == (8, 17)
    assert np.all(res.reproj_px_after < res.reproj_px_before)
    assert res.reproj_px_after.mean() < 0.8 * res.reproj_px_before.mean()
    # the reported errors are the reported pose's, placed at the reported root
    proj = project(res.joints_m.astype(np.float64) + res.root_m[:, None], INTR)
    w = np.where(sc >= 0.3, sc, 0)
    err = (np.linalg.norm(proj - kp, axis=-1) * w).sum(-1) / w.sum(-1)
    np.testing.assert_allclose(err, res.reproj_px_after, rtol=1e-3)


def test_zero_iterations_is_a_no_op(model):
    kp, sc = frames(4)
    base = lift(model, kp, sc, INTR, RefineOptions(mode="none"))
    for mode in ("uao", "uao-feature"):
        res = lift(model, kp, sc, INTR, RefineOptions(mode=mode, iters=0))
        assert res.iters == 0
        np.testing.assert_array_equal(res.joints_m, base.joints_m)
        np.testing.assert_array_equal(res.root_m, base.root_m)
        np.testing.assert_array_equal(res.reproj_px_after, res.reproj_px_before)
    # and mode "none" agrees with the plain module forward
    with torch.no_grad():
        mu, s = model(torch.from_numpy(normalise_keypoints(kp, INTR)))
    mu = mu.numpy() - mu.numpy()[:, :1]
    np.testing.assert_allclose(base.joints_m, mu, atol=1e-5)
    np.testing.assert_allclose(base.sigma_m, np.exp(s.numpy()), rtol=1e-4)


@pytest.mark.parametrize("mode", ["uao", "uao-feature"])
def test_large_lambda_unc_keeps_the_unrefined_pose(model, mode):
    kp, sc = frames(4)
    base = lift(model, kp, sc, INTR, RefineOptions(mode="none"))
    res = lift(model, kp, sc, INTR, RefineOptions(mode=mode, solver="adam", iters=6, lr=0.05, lambda_unc=1e6))
    np.testing.assert_array_equal(res.joints_m, base.joints_m)
    moved = lift(model, kp, sc, INTR, RefineOptions(mode=mode, solver="adam", iters=6, lr=0.05, lambda_unc=0.0))
    assert np.abs(moved.joints_m - base.joints_m).max() > 1e-3  # the same run without the term moves


def test_gauss_newton_prior_weight_interpolates(model):
    kp, sc = frames(4)
    base = lift(model, kp, sc, INTR, RefineOptions(mode="none"))
    stiff = lift(model, kp, sc, INTR, RefineOptions(mode="uao-feature", solver="gn", iters=3, lambda_unc=1e9))
    np.testing.assert_allclose(stiff.joints_m, base.joints_m, atol=1e-5)  # float32 solve
    loose = lift(model, kp, sc, INTR, RefineOptions(mode="uao-feature", solver="gn", iters=3, lambda_unc=1e-3))
    mid = lift(model, kp, sc, INTR, RefineOptions(mode="uao-feature", solver="gn", iters=3, lambda_unc=1.0))
    assert loose.reproj_px_after.mean() < mid.reproj_px_after.mean() < base.reproj_px_before.mean()


@pytest.mark.parametrize("solver,lambda_unc", [("adam", 0.02), ("gn", 0.02)])
def test_confident_joints_move_less(model, solver, lambda_unc):
    """Same network, same 2D: scale the uncertainty head so sigma spreads over two orders
    of magnitude across joints; under the uncertainty term, low-sigma joints stay closer."""
    m = GUMLP(**{k: v for k, v in model.config.items()})
    m.load_state_dict(model.state_dict())
    with torch.no_grad():
        m.sigma_head.fc2.weight.mul_(6.0)
    m.eval()
    kp, sc = frames(16, seed=5)
    base = lift(m, kp, sc, INTR, RefineOptions(mode="none"))
    res = lift(m, kp, sc, INTR, RefineOptions(mode="uao-feature", solver=solver, iters=10, lr=0.05,
                                              lambda_unc=lambda_unc))
    move = np.linalg.norm(res.joints_m - base.joints_m, axis=-1)[:, 1:].ravel()  # pelvis is 0 by definition
    sigma = base.sigma_m[:, 1:].ravel()
    assert sigma.max() / sigma.min() > 50
    low, high = sigma < np.quantile(sigma, 0.25), sigma > np.quantile(sigma, 0.75)
    assert np.median(move[low]) < 0.5 * np.median(move[high])
    from scipy.stats import spearmanr
    assert spearmanr(sigma, move).statistic > 0.3


@pytest.mark.parametrize("mode", ["uao", "uao-feature"])
def test_missing_and_low_score_joints_are_ignored(model, mode):
    kp, sc = frames(3)
    kp_nan, sc_nan = kp.copy(), sc.copy()
    kp_nan[0, 13] = np.nan           # missing wrist (NaN position)
    sc_nan[1, 16] = np.nan           # NaN score
    kp_nan[2, 3] = (np.inf, np.nan)  # garbage ankle
    opts = RefineOptions(mode=mode, iters=5, lr=0.05)
    res = lift(model, kp_nan, sc_nan, INTR, opts)
    for field in (res.joints_m, res.root_m, res.sigma_m, res.reproj_px_before, res.reproj_px_after):
        assert np.all(np.isfinite(field))
    # A missing joint enters the network as its parent (normalise.fill_missing) and must
    # pull nothing: the same as giving it the parent's position with score 0.
    kp_ref, sc_ref = kp.copy(), sc.copy()
    kp_ref[0, 13], sc_ref[0, 13] = kp[0, 12], 0.0
    kp_ref[1, 16], sc_ref[1, 16] = kp[1, 15], 0.0  # a NaN score makes the joint missing
    kp_ref[2, 3], sc_ref[2, 3] = kp[2, 2], 0.0
    ref = lift(model, kp_ref, sc_ref, INTR, opts)
    np.testing.assert_allclose(res.joints_m, ref.joints_m, atol=1e-6)
    # a finite but low-score joint anywhere in the image changes nothing either
    far = kp_ref.copy()
    far[0, 13] = (5000.0, -3000.0)
    far_res = lift(model, far, sc_ref, INTR, opts)
    assert np.abs(far_res.joints_m[1:] - ref.joints_m[1:]).max() < 1e-6
    np.testing.assert_allclose(far_res.reproj_px_after[1:], ref.reproj_px_after[1:], rtol=1e-6)


def test_per_frame_intrinsics_match_one_call_per_frame(model):
    kp, sc = frames(3, seed=7)
    f = np.array([[800.0], [1000.0], [1400.0]])
    c = np.array([[640.0], [600.0], [700.0]])
    batch = Intrinsics(f, f, c, c * 0 + 360.0, 1280, 720)
    opts = RefineOptions(mode="uao-feature", iters=4)
    res = lift(model, kp, sc, batch, opts)
    for i in range(3):
        one = lift(model, kp[i:i + 1], sc[i:i + 1],
                   Intrinsics(f[i, 0], f[i, 0], c[i, 0], 360.0, 1280, 720), opts)
        np.testing.assert_allclose(res.joints_m[i], one.joints_m[0], atol=1e-5)
        np.testing.assert_allclose(res.root_m[i], one.root_m[0], atol=1e-4)


def test_time_budget_stops_early_and_joint_root_runs(model):
    kp, sc = frames(2)
    res = lift(model, kp, sc, INTR, RefineOptions(mode="uao", iters=50, max_ms=1e-6))
    assert res.iters == 1
    res = lift(model, kp, sc, INTR, RefineOptions(mode="uao", iters=10, lr=0.05, root="joint"))
    assert res.iters == 10 and res.reproj_px_after.mean() < res.reproj_px_before.mean()


@pytest.mark.parametrize("options", [
    RefineOptions(mode="uao", iters=3), RefineOptions(mode="uao", iters=3, root="joint"),
    RefineOptions(mode="uao-feature", iters=3), RefineOptions(mode="uao-feature", iters=3, solver="adam"),
    RefineOptions(mode="uao", iters=3, max_ms=1e9)], ids=lambda o: f"{o.mode}-{o.solver_used}-{o.root}-{o.max_ms:g}")
def test_refinement_loop_never_reads_device_values(model, options):
    """The loop must not wait on the GPU each iteration (`--device cuda`). On the meta
    device tensors have shapes but no values, so any host read (.item(), if tensor,
    a data-dependent shape) raises: the whole loop running there proves it has none."""
    kp, sc = frames(2)
    meta = GUMLP(**model.config).to("meta").eval()  # the architecture, no values
    problem = FrameProblem(pixels_to_rays(kp, INTR), projection_weights(kp, sc, options.score_threshold)[0], "meta")
    x = torch.empty(2, 17, 2, device="meta")
    mu0, mu, s, done = refine_frames(FoldedGUMLP(meta), x, problem, options)
    assert done == 3 and mu.device.type == "meta" and mu.shape == (2, 17, 3) and s.shape == (2, 17)


def test_presets_and_bad_input_give_one_line_errors(model):
    authors = RefineOptions.preset("authors")
    assert (authors.mode, authors.iters, authors.lr, authors.lambda_proj, authors.lambda_unc, authors.solver) == \
        ("uao", 4, 1e-3, 1.0, 0.005, "adam")
    assert RefineOptions.preset("live").mode == "uao-feature"
    # the feature latent defaults to Gauss-Newton, the input latent to Adam
    kp, sc = frames(2)
    gn = lift(model, kp, sc, INTR, RefineOptions(mode="uao-feature", solver="gn"))
    np.testing.assert_array_equal(lift(model, kp, sc, INTR, RefineOptions(mode="uao-feature")).joints_m, gn.joints_m)
    kp, sc = frames(2)
    bad = [
        (lambda: RefineOptions.preset("fastest"), "refine preset"),
        (lambda: lift(model, kp, sc, INTR, RefineOptions(mode="uao-magic")), "refine mode"),
        (lambda: lift(model, kp, sc, INTR, RefineOptions(mode="uao", iters=-1)), "refine iters"),
        (lambda: lift(model, kp, sc, INTR, replace(authors, lr=float("nan"))), "refine lr"),
        (lambda: lift(model, kp, sc, INTR, replace(authors, solver="gn")), "refine solver"),
        (lambda: lift(model, kp, sc, INTR, replace(authors, solver="newton")), "refine solver"),
        (lambda: lift(model, kp[:, :15], sc, INTR), "keypoints_px"),
        (lambda: lift(model, kp, sc[:, :3], INTR), "scores"),
        (lambda: lift(model, kp, sc, INTR, device="meta"), "lift: model is on cpu"),
    ]
    for call, start in bad:
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value).startswith(start) and "\n" not in str(err.value)
    empty = lift(model, np.zeros((0, 17, 2)), np.zeros((0, 17)), INTR, RefineOptions(mode="uao"))
    assert empty.joints_m.shape == (0, 17, 3) and empty.root_m.shape == (0, 3)
