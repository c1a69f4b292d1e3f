"""The per-frame refinement loops: Adam on a latent (the input or the feature), and
Gauss-Newton on the feature latent's reach (per-joint positions)."""
import time

import torch

from .options import FEATURE_MODES


class Adam:
    """Adam on one tensor, in place (few kernels per step, no host syncs)."""

    def __init__(self, param, lr, betas=(0.9, 0.999), eps=1e-8):
        self.p, self.lr, self.b1, self.b2, self.eps = param, lr, betas[0], betas[1], eps
        self.m = torch.zeros_like(param)
        self.v = torch.zeros_like(param)
        self.t = 0

    def step(self, grad):
        self.t += 1
        self.m.mul_(self.b1).add_(grad, alpha=1 - self.b1)
        self.v.mul_(self.b2).addcmul_(grad, grad, value=1 - self.b2)
        denom = (self.v / (1 - self.b2 ** self.t)).sqrt_().add_(self.eps)
        self.p.addcdiv_(self.m, denom, value=-self.lr / (1 - self.b1 ** self.t))


def out_of_time(start, options):
    """True once options.max_ms (> 0) has passed since `start` (perf_counter seconds).
    Reads no device values: on a GPU it measures launch time, all a live loop can see
    without a sync."""
    return options.max_ms > 0 and (time.perf_counter() - start) * 1e3 >= options.max_ms


@torch.no_grad()
def refine_frames(folded, x, problem, options, record=None):
    """Refine each frame on its own. folded: FoldedGUMLP; x (B, 17, 2) float32 network
    input on the device; problem: FrameProblem.

    Returns mu0 (B, 17, 3), mu (B, 17, 3), s (B, 17), iterations run. A list `record`
    receives mu after 0, 1, ... iterations (each iteration's forward is the previous
    one's result, so one run gives the whole convergence curve).
    """
    if options.mode == "none" or options.iters == 0:
        mu0, s0, _ = folded.decode(folded.encode(x))
        if record is not None:
            record.append(mu0)
        return mu0, mu0, s0, 0
    if options.solver_used == "gn":
        return refine_gauss_newton(folded, x, problem, options, record)
    return refine_adam(folded, x, problem, options, record)


@torch.no_grad()
def refine_adam(folded, x, problem, options, record=None):
    """Adam on the input (mode uao) or the feature (uao-feature, solver adam)."""
    feature_latent = options.mode in FEATURE_MODES
    latent = folded.encode(x) if feature_latent else x.clone()
    opt = Adam(latent, options.lr_used)
    root = opt_root = mu0 = None
    start = time.perf_counter()
    done = 0
    for _ in range(options.iters):
        cache = None if feature_latent else []
        feat = latent if feature_latent else folded.encode(latent, cache)
        mu, s, norm = folded.decode(feat)
        if record is not None:
            record.append(mu.clone())
        if mu0 is None:  # the first iterate is the unrefined prediction
            mu0 = mu.clone()
            if options.root == "joint":
                root = problem.root(mu0 - mu0[:, :1])
                opt_root = Adam(root, options.root_lr_m)
        grads = problem.gradients(mu, mu0, s, options, root)
        g = folded.decode_vjp(grads[0], norm)
        opt.step(g if feature_latent else folded.encode_vjp(g, cache))
        if root is not None:
            opt_root.step(grads[1])
        done += 1
        if out_of_time(start, options):
            break
    mu, s, _ = folded.decode(latent if feature_latent else folded.encode(latent))
    if record is not None:
        record.append(mu.clone())
    return mu0, mu, s, done


@torch.no_grad()
def refine_gauss_newton(folded, x, problem, options, record=None):
    """Gauss-Newton on the feature latent. The heads are LayerNorm -> affine, per joint,
    with a rank-3 map from each joint's feature to its position: every per-joint 3D
    displacement is reachable by some feature change, so the optimum over features of
    an objective on mu (s held at its first value, as the detached uncertainty term
    holds it) is the optimum over per-joint positions, which GN solves in 51 unknowns."""
    mu0, s0, _ = folded.decode(folded.encode(x))
    mu = mu0
    start = time.perf_counter()
    done = 0
    if record is not None:
        record.append(mu0)
    for _ in range(options.iters):
        mu = problem.gauss_newton_step(mu, mu0, s0, options)
        done += 1
        if record is not None:
            record.append(mu)
        if out_of_time(start, options):
            break
    return mu0, mu, s0, done
