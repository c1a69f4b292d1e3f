"""uao-sequence: the feature latent of each of one person's consecutive frames, refined
jointly over a window with one set of bone lengths per person and temporal smoothness.

As in per-frame uao-feature, the feature before the heads reaches any per-joint 3D
displacement, so the latent of frame t is solved as its joint positions mu_t (17, 3)
with sigma held at the network's first value. Objective over a window of T frames:
  projection   lambda_proj sum_t sum_j w_tj ||e_tj||^2          (score-weighted, per frame)
  uncertainty  lambda_unc / 17 sum_t sum_j ||mu_tj - mu0_tj||^2 / sigma_tj^2
  bones        lambda_bone / 16 sum_t sum_k (||mu_t,child_k - mu_t,parent_k|| - b_k)^2
  smoothness   lambda_smooth / 17 sum_t sum_j ||second difference of rel_tj||^2
               + lambda_root_smooth sum_t ||second difference of root_t||^2
where rel = mu - mu_pelvis, root_t the closed-form root of rel_t (camera.place_root),
so the root trajectory is re-solved from the shared bone lengths at every step.
Sigma weights the smoothness implicitly: a confident joint is held by its prior, an
uncertain one (small 1 / sigma^2, small score) follows its neighbours in time.

Bone lengths b (16,) are the person's shared unknowns, updated in closed form (the mean
over frames of each bone's current length) between Gauss-Newton steps on the poses.
Their sum is frozen at the lifter's own estimate (median over the track's frames):
the overall size cannot be recovered from 2D alone (the uncertainty prior would shrink
a free skeleton), so the sequence fixes proportions and each bone's depth, and the
root depth follows from that size.

The Gauss-Newton system of a window is block-banded (51 x 51 per frame, coupled to
+-2 frames by the second differences); it is solved by conjugate gradients
preconditioned with each frame's own block: exact in one step when the temporal
weights are 0, which then reproduces per-frame uao-feature.
"""
import time
from functools import lru_cache

import numpy as np
import torch

from ..camera import place_root
from ..skeleton import BONES, NUM_JOINTS
from .objective import FrameProblem
from .solvers import out_of_time

PARENT = torch.tensor([p for p, _ in BONES])
CHILD = torch.tensor([c for _, c in BONES])
NUM_BONES = len(BONES)
# A frame with fewer projected joints than this has no 2D evidence of its own (empty or
# nearly): its prior is muted and its root is interpolated from its neighbours in time.
MIN_JOINTS = 4
MUTED_PRIOR = 1e-3


def incidence():
    """(16, 17) +1 at each bone's child, -1 at its parent: bone vectors = INCIDENCE @ mu."""
    inc = np.zeros((NUM_BONES, NUM_JOINTS))
    inc[np.arange(NUM_BONES), CHILD.numpy()] = 1.0
    inc[np.arange(NUM_BONES), PARENT.numpy()] = -1.0
    return torch.from_numpy(inc)


INCIDENCE = incidence()


def bone_lengths(mu):
    """(T, 17, 3) -> (T, 16) bone lengths."""
    return torch.linalg.vector_norm(mu[:, CHILD] - mu[:, PARENT], dim=-1)


def initial_bones(mu0, present):
    """(16,) the lifter's bone lengths, median over the frames with 2D evidence."""
    lengths = bone_lengths(mu0)
    if bool(present.any()):
        lengths = lengths[present]
    return lengths.median(0).values


@lru_cache(maxsize=8)
def second_difference_matrix(T):
    """(T - 2, T) float64: the accelerations of a length-T sequence."""
    D = np.zeros((T - 2, T))
    i = np.arange(T - 2)
    D[i, i], D[i, i + 1], D[i, i + 2] = 1.0, -2.0, 1.0
    return torch.from_numpy(D)


def smoothing_matrix(T, like, mask=None):
    """(T, T) D^T diag(mask) D with D the (T - 2, T) second difference: the Gram matrix of
    the accelerations (mask (T - 2,) drops some of them)."""
    D = second_difference_matrix(T).to(like)
    return D.T @ (D * mask[:, None]) if mask is not None else D.T @ D


def pelvis_relative_gram():
    """(51, 51) M^T M with M the map mu -> mu - mu_pelvis of one frame (flattened)."""
    M = np.eye(3 * NUM_JOINTS)
    M[:, :3] -= np.tile(np.eye(3), (NUM_JOINTS, 1))
    return torch.from_numpy(M.T @ M)


PELVIS_RELATIVE_GRAM = pelvis_relative_gram()


class Window:
    """The Gauss-Newton system of one window at its current poses mu (T, 17, 3)."""

    def __init__(self, problem, mu, mu0, s, present, bones, options):
        T = mu.shape[0]
        self.T, self.options = T, options
        r, J = problem.linearise(mu, options.lambda_proj)
        keep = torch.where(present, 1.0, MUTED_PRIOR).to(mu.dtype)[:, None]
        prior2 = (options.lambda_unc / NUM_JOINTS) * torch.exp(-2 * s) * keep      # (T, 17)
        prior2 = prior2[..., None].expand(T, NUM_JOINTS, 3).reshape(T, -1)
        # + 1e-9: without the prior (lambda_unc 0) the pelvis translation is free
        H = J.transpose(1, 2) @ J + torch.diag_embed(prior2 + 1e-9)
        g = (J.transpose(1, 2) @ r[..., None])[..., 0] + prior2 * (mu - mu0).reshape(T, -1)
        if options.lambda_bone > 0:
            v = mu[:, CHILD] - mu[:, PARENT]
            length = torch.linalg.vector_norm(v, dim=-1)
            u = v / length.clamp(min=1e-9)[..., None]
            c = (options.lambda_bone / NUM_BONES) ** 0.5
            Jb = (c * u[:, :, None, :] * INCIDENCE.to(mu)[None, :, :, None]).reshape(T, NUM_BONES, -1)
            H = H + Jb.transpose(1, 2) @ Jb
            g = g + (Jb.transpose(1, 2) @ (c * (length - bones))[..., None])[..., 0]
        self.coupled = T >= 3 and (options.lambda_smooth > 0 or options.lambda_root_smooth > 0)
        self.H, self.S, self.Sr = H, None, None
        P = H
        if self.coupled:
            # Structured, never dense: the joint smoothness is (lambda / 17) S v M^T M with
            # S = D^T D (T, T) over time and M the per-frame pelvis-relative map; the root
            # smoothness Jr^T Sr Jr v. A few small matrix products per CG step.
            diag = lambda m: torch.diagonal(m)[:, None, None]  # noqa: E731
            if options.lambda_smooth > 0:   # quadratic in mu: gradient = its matrix times mu
                self.S = smoothing_matrix(T, mu) * (options.lambda_smooth / NUM_JOINTS)
                self.MtM = PELVIS_RELATIVE_GRAM.to(mu)
                g = g + self.S @ mu.reshape(T, -1) @ self.MtM
                P = P + diag(self.S) * self.MtM
            if options.lambda_root_smooth > 0:
                root, jac = place_root(mu - mu[:, :1], problem.G)
                jr = jac.clone()
                jr[:, 0] -= jac.sum(1)                                    # d root / d mu
                self.Jr = jr.permute(0, 2, 1, 3).reshape(T, 3, -1)        # (T, 3, 51)
                # root accelerations need the root of all three frames: none through a
                # frame without 2D evidence (its closed-form root is undetermined)
                p = present.to(mu.dtype)
                self.Sr = smoothing_matrix(T, mu, p[:-2] * p[1:-1] * p[2:]) * options.lambda_root_smooth
                g = g + (self.Jr.transpose(1, 2) @ (self.Sr @ root)[..., None])[..., 0]
                P = P + diag(self.Sr) * self.Jr.transpose(1, 2) @ self.Jr
        self.g = g
        self.P = torch.linalg.cholesky(P)                                 # block-Jacobi

    def apply(self, v):
        """(T, 51) -> (T, 51): the window's Gauss-Newton matrix times v."""
        out = (self.H @ v[..., None])[..., 0]
        if self.S is not None:
            out = out + self.S @ v @ self.MtM
        if self.Sr is not None:
            out = out + (self.Jr.transpose(1, 2) @ (self.Sr @ (self.Jr @ v[..., None])[..., 0])[..., None])[..., 0]
        return out

    def precondition(self, v):
        return torch.cholesky_solve(v[..., None], self.P)[..., 0]

    def step(self):
        """The Gauss-Newton step (T, 17, 3): preconditioned conjugate gradients on the
        window's system, cg_iters steps (1 when the frames are not coupled: exact)."""
        x = torch.zeros_like(self.g)
        r = -self.g
        z = self.precondition(r)
        p, rz = z, (r * z).sum()
        for _ in range(self.options.cg_iters if self.coupled else 1):
            Ap = self.apply(p)
            alpha = rz / ((p * Ap).sum() + 1e-300)
            x = x + alpha * p
            r = r - alpha * Ap
            z = self.precondition(r)
            rz_new = (r * z).sum()
            p, rz = z + (rz_new / (rz + 1e-300)) * p, rz_new
        return x.view(self.T, NUM_JOINTS, 3)


def update_bones(mu, present, total):
    """(16,) the mean over frames (with 2D evidence) of each bone's length, rescaled to
    the frozen total."""
    lengths = bone_lengths(mu)
    if bool(present.any()):
        lengths = lengths[present]
    b = lengths.mean(0)
    return b * (total / b.sum())


def solve_window(problem, mu0, s, present, options, bones, mu=None):
    """Refine one window. problem: FrameProblem (float64) of its T frames; mu0 (T, 17, 3)
    and s (T, 17) the network's first estimate; present (T,) bool; bones (16,) the
    starting bone lengths, whose sum stays fixed; mu: a warm start (default mu0).
    Returns mu (T, 17, 3), bones (16,), root (T, 3) numpy (undetermined in frames without
    2D evidence: see interpolate_missing), Gauss-Newton steps run."""
    mu = mu0.clone() if mu is None else mu.clone()
    total = bones.sum()
    start = time.perf_counter()
    done = 0
    for _ in range(options.iters):
        if options.lambda_bone > 0:
            bones = update_bones(mu, present, total)
        mu = mu + Window(problem, mu, mu0, s, present, bones, options).step()
        done += 1
        if out_of_time(start, options):
            break
    rel = mu - mu[:, :1]
    root = place_root(rel, problem.G)[0].cpu().numpy()
    return mu, bones, root, done


def interpolate_missing(root, present):
    """(T, 3) roots with frames lacking 2D evidence filled linearly from their neighbours."""
    if present.all() or not present.any():
        return root
    t = np.arange(len(root))
    return np.stack([np.interp(t, t[present], root[present, i]) for i in range(3)], -1)


def present_frames(weights):
    """(T,) bool: frames with at least MIN_JOINTS projected joints."""
    return (np.asarray(weights) > 0).sum(-1) >= MIN_JOINTS


def window_starts(T, W):
    """Start frames of overlapping windows of W frames covering T (a quarter overlapping;
    the last window ends at T and may overlap more)."""
    if W >= T:
        return [0]
    stride = W - max(W // 4, 2)
    starts = list(range(0, T - W, stride)) + [T - W]
    return starts


def blend_weights(n, fade_in, fade_out):
    """(n,) weights of a window's frames: linear ramps over the overlaps with its
    neighbours, so overlapping weights sum to 1."""
    w = np.ones(n)
    if fade_in:
        w[:fade_in] = np.arange(1, fade_in + 1) / (fade_in + 1)
    if fade_out:
        w[n - fade_out:] = np.minimum(w[n - fade_out:], 1 - np.arange(1, fade_out + 1) / (fade_out + 1))
    return w


@torch.no_grad()
def refine_track(folded, batch, options):
    """Offline uao-sequence over one person's frames (a LiftInput, rows in time order):
    overlapping windows of options.window frames (crossfaded), bone lengths carried from
    window to window, the size frozen over the whole track.
    Returns joints0, joints (T, 17, 3) root-relative, root (T, 3), log sigma (T, 17)
    as numpy, and the Gauss-Newton steps run per window."""
    mu0_32, s_32, _ = folded.decode(folded.encode(batch.x))
    mu0, s = mu0_32.double(), s_32.double()
    T = mu0.shape[0]
    present_np = present_frames(batch.weights)
    present = torch.as_tensor(present_np, device=mu0.device)
    bones = initial_bones(mu0, present)
    W = min(options.window, T)
    starts = window_starts(T, W)
    mu_sum = torch.zeros_like(mu0)
    root_sum = np.zeros((T, 3))
    w_sum = np.zeros(T)
    done = 0
    for i, a in enumerate(starts):
        sl = slice(a, a + W)
        problem = FrameProblem(batch.rays[sl], batch.weights[sl], mu0.device, torch.float64)
        mu, bones, root, done = solve_window(problem, mu0[sl], s[sl], present[sl], options, bones)
        wt = blend_weights(W, starts[i - 1] + W - a if i else 0,
                           a + W - starts[i + 1] if i + 1 < len(starts) else 0)
        mu_sum[sl] += mu * torch.as_tensor(wt, dtype=mu.dtype, device=mu.device)[:, None, None]
        root_sum[sl] += root * wt[:, None]
        w_sum[sl] += wt
    mu = mu_sum / torch.as_tensor(w_sum, dtype=mu0.dtype, device=mu0.device)[:, None, None]
    rel = lambda m: (m - m[:, :1]).cpu().numpy()  # noqa: E731
    root = interpolate_missing(root_sum / w_sum[:, None], present_np)
    return rel(mu0), rel(mu), root, s.cpu().numpy(), done
