"""Lifting plus UAO test-time refinement: the one call the app and the evaluator use.

UAO (uncertainty-aware test-time optimisation) freezes the lifter and nudges a latent
state for a few iterations so that the 3D pose re-projects onto the detected 2D joints
(projection term) while joints the network is confident about stay put (uncertainty
term: mean_j ||mu_j - mu0_j|| exp(-s_j), s recomputed each iteration and detached).

Latents (RefineOptions.mode):
  "uao"          the normalised 2D network input (B, 17, 2): the authors' released
                 algorithm, autograd through the whole frozen network each iteration.
  "uao-feature"  the feature before the heads (B, 17, C) (the paper's UAO*): the trunk
                 runs once, each iteration touches only LayerNorm -> Linear -> Linear.

No ground truth is used: the root translation comes from a closed-form least-squares
fit of the current root-relative pose to the 2D rays (`camera.solve_root`), re-solved
inside every iteration and differentiated through (RefineOptions.root = "solve"), or
optimised jointly with the latent (root = "joint"); benchmarks/uao_ablation.py compares.

Projection residuals are measured in the network's own input unit: undistorted camera
rays divided by the 2D pose's RMS spread around the pelvis. That unit is free of focal
length, image size and distance, so one lr and one lambda serve every camera and person
size, and the Adam lr on the input latent means the same thing as on the residual.
"""
import math
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from .camera import pixels_to_rays, project, solve_root
from .normalise import fill_missing, normalise_keypoints
from .skeleton import NUM_JOINTS

MODES = ("none", "uao", "uao-feature")
ROOTS = ("solve", "joint")


@dataclass
class RefineOptions:
    mode: str = "none"          # none | uao | uao-feature
    iters: int = 4
    lambda_proj: float = 1.0
    lambda_unc: float = 0.005
    lr: float = 1e-2              # Adam step; measured, see benchmarks/uao_ablation.py
    score_threshold: float = 0.3  # 2D joints scored below this do not pull the projection
    max_ms: float = 0.0           # > 0: stop refining once this much time has passed (live)
    root: str = "solve"           # solve: closed-form root per iteration | joint: Adam on it too
    root_lr_m: float = 0.01       # Adam step of the root translation when root == "joint"

    @staticmethod
    def preset(name):
        """Named settings. "authors": the released code's exact optimiser settings
        (input latent, Adam lr 1e-3, 4 iterations, lambdas 1 / 0.005); "live": the
        measured defaults for the feature latent."""
        presets = {
            "authors": RefineOptions(mode="uao", iters=4, lambda_proj=1.0, lambda_unc=0.005, lr=1e-3),
            "live": RefineOptions(mode="uao-feature"),
        }
        if name not in presets:
            raise ValueError(f"refine preset {name!r}: unknown (expected one of {', '.join(presets)})")
        return replace(presets[name])

    def check(self):
        if self.mode not in MODES:
            raise ValueError(f"refine mode {self.mode!r}: unknown (expected one of {', '.join(MODES)})")
        if self.root not in ROOTS:
            raise ValueError(f"refine root {self.root!r}: unknown (expected one of {', '.join(ROOTS)})")
        if not (isinstance(self.iters, (int, np.integer)) and self.iters >= 0):
            raise ValueError(f"refine iters {self.iters!r}: must be an integer >= 0")
        for name in ("lambda_proj", "lambda_unc", "lr", "root_lr_m", "max_ms"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"refine {name} {v!r}: must be a finite number >= 0")


@dataclass
class LiftResult:
    joints_m: np.ndarray          # (B, 17, 3) root-relative, camera frame, metres
    root_m: np.ndarray            # (B, 3) estimated camera-frame pelvis position
    sigma_m: np.ndarray           # (B, 17) predicted per-joint uncertainty
    reproj_px_before: np.ndarray  # (B,) mean re-projection error of the unrefined pose
    reproj_px_after: np.ndarray   # (B,) the same after refinement
    iters: int                    # iterations actually run


def _weights(keypoints_px, scores, threshold):
    """(B, 17) projection weights: the detector score, 0 below threshold / NaN / missing."""
    valid = np.isfinite(keypoints_px).all(-1) & np.isfinite(scores)
    return np.where(valid & (scores >= threshold), np.nan_to_num(scores), 0.0), valid


def reprojection_error_px(joints_m, root_m, keypoints_px, weights, intr):
    """(B,) weighted mean pixel distance between projected joints and 2D keypoints."""
    proj = project(joints_m + root_m[:, None], intr)
    d = np.linalg.norm(proj - np.nan_to_num(keypoints_px), axis=-1)
    return (d * weights).sum(-1) / np.maximum(weights.sum(-1), 1e-9)


def _check_inputs(keypoints_px, scores):
    kp = np.asarray(keypoints_px, dtype=np.float64)
    sc = np.asarray(scores, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f"keypoints_px: shape {kp.shape}, expected (B, {NUM_JOINTS}, 2)")
    if sc.shape != kp.shape[:2]:
        raise ValueError(f"scores: shape {sc.shape}, expected {kp.shape[:2]} to match keypoints_px")
    return kp, sc


def _norm(v):
    """Euclidean norm over the last axis with a zero (not NaN) gradient at 0."""
    return torch.sqrt((v * v).sum(-1) + 1e-12)


class _Problem:
    """The per-frame constants of one refinement, as tensors on the device.

    rays (B, 17, 2) undistorted detected rays (missing joints filled, weight 0);
    w (B, 17) normalised projection weights (sum 1 per frame, or all 0);
    inv_scale (B, 1) 1 / RMS spread of the rays: residuals in network-input units.
    """

    def __init__(self, rays, weights, device):
        centred = rays - rays[:, :1]
        scale = np.sqrt((centred ** 2).sum(-1).mean(-1))
        wsum = weights.sum(-1, keepdims=True)
        self.rays = torch.as_tensor(rays, dtype=torch.float32, device=device)
        self.w_solve = torch.as_tensor(weights, dtype=torch.float32, device=device)
        self.w = torch.as_tensor(weights / np.maximum(wsum, 1e-12), dtype=torch.float32, device=device)
        self.inv_scale = torch.as_tensor(1.0 / np.maximum(scale, 1e-6), dtype=torch.float32,
                                         device=device)[:, None]

    def root(self, rel):
        return solve_root(rel, self.rays, self.w_solve)

    def projection(self, rel, root):
        """(B,) score-weighted mean distance of projected joints to the detected rays."""
        p = rel + root[:, None]
        # solve_root keeps every joint >= 0.3 m in front; the clamp only guards a jointly
        # optimised root from dividing by ~0 depth.
        z = p[..., 2:].clamp(min=0.05)
        e = (p[..., :2] / z - self.rays) * self.inv_scale[..., None]
        return (_norm(e) * self.w).sum(-1)


def _uncertainty(mu, mu0, s):
    """(B,) the authors' term: mean_j ||mu_j - mu0_j|| exp(-s_j), s detached."""
    return (_norm(mu - mu0) * torch.exp(-s)).mean(-1)


class _Adam:
    """Adam on one tensor, in place (few kernels per step, no host syncs)."""

    def __init__(self, param, lr, betas=(0.9, 0.999), eps=1e-8):
        self.p, self.lr, self.b1, self.b2, self.eps = param, lr, betas[0], betas[1], eps
        self.m = torch.zeros_like(param)
        self.v = torch.zeros_like(param)
        self.t = 0

    @torch.no_grad()
    def step(self, grad):
        self.t += 1
        self.m.mul_(self.b1).add_(grad, alpha=1 - self.b1)
        self.v.mul_(self.b2).addcmul_(grad, grad, value=1 - self.b2)
        step = self.lr / (1 - self.b1 ** self.t)
        denom = (self.v / (1 - self.b2 ** self.t)).sqrt_().add_(self.eps)
        self.p.addcdiv_(self.m, denom, value=-step)


class _frozen:
    """Context: the model's parameters stop recording gradients (restored afterwards),
    so each backward computes only the latent's gradient, not every weight's."""

    def __init__(self, model):
        self.params = [p for p in model.parameters() if p.requires_grad]

    def __enter__(self):
        for p in self.params:
            p.requires_grad_(False)

    def __exit__(self, *exc):
        for p in self.params:
            p.requires_grad_(True)


def _refine(model, x, problem, options):
    """Run the refinement loop. x (B, 17, 2) float32 network input on the device.

    Returns mu0 (B, 17, 3), mu (B, 17, 3), s (B, 17), iterations run.
    """
    feature_latent = options.mode == "uao-feature"
    if options.mode == "none" or options.iters == 0:
        with torch.inference_mode():
            mu0, s0 = model(x)
        return mu0, mu0, s0, 0
    if feature_latent:
        with torch.inference_mode():
            feat0 = model.encode(x)
        latent = feat0.clone().requires_grad_(True)  # a leaf outside inference mode
    else:
        latent = x.clone().requires_grad_(True)
    opt = _Adam(latent, options.lr)
    root = opt_root = None
    start = time.perf_counter()
    mu0 = None
    done = 0
    for it in range(options.iters):
        # The first iterate is the unrefined prediction: its forward also gives mu0.
        feat = latent if feature_latent else model.encode(latent)
        mu = model.mean_head(feat)
        with torch.no_grad():  # s only weights the uncertainty term (detached)
            s = model.sigma_head(feat.detach())[..., 0]
        rel = mu - mu[:, :1]
        if mu0 is None:
            mu0 = mu.detach()
            if options.root == "joint":
                root = problem.root(rel.detach()).requires_grad_(True)
                opt_root = _Adam(root, options.root_lr_m)
        loss = options.lambda_unc * _uncertainty(mu, mu0, s)
        if options.lambda_proj > 0:
            loss = loss + options.lambda_proj * problem.projection(rel, problem.root(rel) if root is None else root)
        inputs = (latent,) if root is None else (latent, root)
        grads = torch.autograd.grad(loss.sum(), inputs, allow_unused=True)
        opt.step(grads[0] if grads[0] is not None else torch.zeros_like(latent))
        if root is not None and grads[1] is not None:
            opt_root.step(grads[1])
        done += 1
        # Time check without reading device values: on CPU the clock is exact, on a GPU it
        # measures launch time, which is all a live loop can look at without a sync.
        if options.max_ms > 0 and (time.perf_counter() - start) * 1e3 >= options.max_ms:
            break
    with torch.inference_mode():
        mu, s = model.decode(latent if feature_latent else model.encode(latent))
    return mu0, mu.clone(), s.clone(), done


def lift(model, keypoints_px, scores, intr, options=None, device=None):
    """Lift 2D keypoints to 3D and optionally refine with UAO.

    keypoints_px (B, 17, 2) lifter-order pixels (NaN = missing), scores (B, 17),
    intr: Intrinsics (fields may be (B, 1) arrays for per-frame cameras).
    Returns LiftResult; no ground truth is used anywhere.
    """
    options = options or RefineOptions()
    options.check()
    device = torch.device(device) if device is not None else next(model.parameters()).device
    kp, sc = _check_inputs(keypoints_px, scores)
    B = kp.shape[0]
    if B == 0:
        z = np.zeros((0,), np.float32)
        return LiftResult(np.zeros((0, NUM_JOINTS, 3), np.float32), np.zeros((0, 3), np.float32),
                          np.zeros((0, NUM_JOINTS), np.float32), z, z.copy(), 0)
    w, valid = _weights(kp, sc, options.score_threshold)
    x = normalise_keypoints(kp, intr, valid, model.config.get("input_norm", "rays"))
    rays = pixels_to_rays(fill_missing(np.nan_to_num(kp), valid), intr)
    problem = _Problem(rays, w, device)
    was_training = model.training
    model.eval()
    try:
        with _frozen(model):
            mu0, mu, s, done = _refine(model, torch.from_numpy(x).to(device), problem, options)
    finally:
        model.train(was_training)
    out = []
    for m in (mu0, mu):
        j = m.detach().float().cpu().numpy().astype(np.float64)
        out.append(j - j[:, :1])
    joints0, joints = out
    err0 = reprojection_error_px(joints0, solve_root(joints0, rays, w), kp, w, intr)
    root = solve_root(joints, rays, w)
    err = reprojection_error_px(joints, root, kp, w, intr)
    return LiftResult(joints.astype(np.float32), root.astype(np.float32),
                      np.exp(s.detach().float().cpu().numpy()), err0, err, done)
