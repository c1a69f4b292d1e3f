"""Lifting plus UAO test-time refinement: the one call the app and the evaluator use.

UAO (uncertainty-aware test-time optimisation) freezes the lifter and moves a latent
state for a few iterations so that the 3D pose re-projects onto the detected 2D joints
(projection term, weighted by detector score) while joints the network is confident
about stay put (uncertainty term: mean_j ||mu_j - mu0_j|| exp(-s_j), s detached).

Latents (RefineOptions.mode):
  "uao"          the normalised 2D network input (B, 17, 2): the authors' released
                 algorithm (Adam), a forward and an input-gradient through the whole
                 frozen network per iteration (hand-written VJP, `_Fast`).
  "uao-feature"  the feature before the heads (B, 17, C) (the paper's UAO*): the trunk
                 runs once. The heads are LayerNorm -> affine per joint, so this latent
                 reaches any per-joint 3D displacement; by default (solver "gn") a few
                 Gauss-Newton steps solve the squared objective in those 51 unknowns,
                 solver "adam" runs the paper's Adam on the feature instead.

No ground truth is used: the root translation is the closed-form least-squares fit of
the current root-relative pose to the 2D rays (as `camera.solve_root`, with its depth
guard), re-solved and differentiated through in every iteration (root = "solve"), or
optimised jointly with the latent (root = "joint"); benchmarks/uao_ablation.py measures
both (re-solving wins).

Projection residuals are measured in the network's own input unit: undistorted camera
rays divided by the 2D pose's RMS spread around the pelvis. That unit is free of focal
length, image size and distance, so one lr and one lambda serve every camera and person
size. It is larger than the authors' width-normalised pixels, which is why the measured
lambda_unc (0.1) is not the paper's 0.005 (kept in RefineOptions.preset("authors")).
"""
import math
import time
import weakref
from dataclasses import dataclass, replace

import numpy as np
import torch

from .camera import pixels_to_rays, project, solve_root
from .normalise import fill_missing, normalise_keypoints, normalise_rays
from .skeleton import NUM_JOINTS

MODES = ("none", "uao", "uao-feature")
_MIN_Z_M = 0.05  # depth floor of the projection (a jointly optimised root has no guard)
ROOTS = ("solve", "joint")
SOLVERS = ("adam", "gn")
# Adam steps by measurement (benchmarks/uao_ablation.py, training subjects): the latents
# live in different units (normalised 2D vs LayerNorm-scale features).
LR = {"uao": 1e-2, "uao-feature": 3e-2}


@dataclass
class RefineOptions:
    mode: str = "none"          # none | uao | uao-feature
    iters: int = 4
    lambda_proj: float = 1.0
    lambda_unc: float = 0.1       # measured; 0.005 is the paper's value in its own units
    lr: float = None              # Adam step; None: the measured default of the latent (LR)
    score_threshold: float = 0.3  # 2D joints scored below this do not pull the projection
    max_ms: float = 0.0           # > 0: stop refining once this much time has passed (live)
    root: str = "solve"           # solve: closed-form root per iteration | joint: Adam on it too
    root_lr_m: float = 0.01       # Adam step of the root translation when root == "joint"
    sticky: bool = True           # joints at rest move only if the 2D pull beats their confidence
    solver: str = None            # adam | gn (feature latent only); None: gn for the feature
                                  # latent (measured: more accurate, as fast), adam for the input

    @property
    def solver_used(self):
        """The solver that runs: the given one, else gn for the feature latent, adam for the input."""
        return self.solver or ("gn" if self.mode == "uao-feature" else "adam")

    @property
    def lr_used(self):
        """Adam's step: the given one, else the measured default of the latent (LR)."""
        return self.lr if self.lr is not None else LR.get(self.mode)

    @staticmethod
    def preset(name):
        """Named settings. "authors": the released code's exact optimiser settings
        (input latent, Adam lr 1e-3, 4 iterations, lambdas 1 / 0.005, autograd's zero
        gradient of ||mu - mu0|| at rest); "live": the feature latent with Gauss-Newton,
        2 steps (converged; see benchmarks/uao_ablation.py)."""
        presets = {
            "authors": RefineOptions(mode="uao", iters=4, lambda_proj=1.0, lambda_unc=0.005, lr=1e-3,
                                     sticky=False, solver="adam"),
            "live": RefineOptions(mode="uao-feature", iters=2, solver="gn"),
        }
        if name not in presets:
            raise ValueError(f"refine preset {name!r}: unknown (expected one of {', '.join(presets)})")
        return replace(presets[name])

    def check(self):
        if self.mode not in MODES:
            raise ValueError(f"refine mode {self.mode!r}: unknown (expected one of {', '.join(MODES)})")
        if self.root not in ROOTS:
            raise ValueError(f"refine root {self.root!r}: unknown (expected one of {', '.join(ROOTS)})")
        if self.solver is not None and self.solver not in SOLVERS:
            raise ValueError(f"refine solver {self.solver!r}: unknown (expected one of {', '.join(SOLVERS)})")
        if self.solver == "gn" and self.mode == "uao":
            raise ValueError("refine solver 'gn' needs mode 'uao-feature' (the input latent has no small closed form)")
        if not (isinstance(self.iters, (int, np.integer)) and self.iters >= 0):
            raise ValueError(f"refine iters {self.iters!r}: must be an integer >= 0")
        for name in ("lambda_proj", "lambda_unc", "lr", "root_lr_m", "max_ms"):
            v = getattr(self, name)
            if v is None and name == "lr":
                continue
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
    d = np.linalg.norm(proj - np.where(weights[..., None] > 0, keypoints_px, proj), axis=-1)
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


def _uncertainty(mu, mu0, s):
    """(B,) the authors' term: mean_j ||mu_j - mu0_j|| exp(-s_j), s detached."""
    return (_norm(mu - mu0) * torch.exp(-s)).mean(-1)


class _Problem:
    """The per-frame constants of one refinement, as tensors on the device.

    rays (B, 17, 2) undistorted detected rays (missing joints filled, weight 0),
    w (B, 17) projection weights normalised to sum 1 per frame (or all 0),
    inv_scale (B, 1) 1 / RMS spread of the rays (residuals in network-input units),
    G (B, 17, 3, 3): the closed-form root as a linear map of the root-relative joints.

    With the rays and weights fixed, camera.solve_root's normal equations have a
    constant matrix K = sum_j w_j A_j^T A_j and a right-hand side linear in the joints,
    so T = sum_j K^-1 w_j C_j X_j: one small einsum per iteration instead of a batched
    solve, and an exact gradient through the root for free.
    """

    def __init__(self, rays, weights, device, min_depth_m=0.3):
        centred = rays - rays[:, :1]
        scale = np.sqrt((centred ** 2).sum(-1).mean(-1))
        x, y, w = rays[..., 0], rays[..., 1], weights
        zero, one = np.zeros_like(x), np.ones_like(x)
        # C_j X = A_j^T b_j with A_j = [[1, 0, -x], [0, 1, -y]], b_j = [x Z - X, y Z - Y]
        C = np.stack([np.stack([-one, zero, x], -1), np.stack([zero, -one, y], -1),
                      np.stack([x, y, -(x * x + y * y)], -1)], -2)  # (B, 17, 3, 3)
        A = np.stack([np.stack([one, zero, -x], -1), np.stack([zero, one, -y], -1)], -2)
        K = np.einsum("bj,bjki,bjkl->bil", w, A, A) + np.eye(3) * 1e-9
        G = np.einsum("bik,bj,bjkl->bjil", np.linalg.inv(K), w, C)
        wsum = w.sum(-1, keepdims=True)
        as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=device)  # noqa: E731
        self.rays, self.G = as_t(rays), as_t(G)
        self.w = as_t(w / np.maximum(wsum, 1e-12))
        self.inv_scale = as_t(1.0 / np.maximum(scale, 1e-6))[:, None, None]
        self.min_depth_m = min_depth_m

    def _root_parts(self, rel):
        T = torch.einsum("bjil,bjl->bi", self.G, rel)
        zmin = (self.min_depth_m - rel[..., 2]).amax(-1, keepdim=True)
        return T, zmin

    def root(self, rel):
        """(B, 3) least-squares root of rel (B, 17, 3), as camera.solve_root, with its
        guard: the root is pushed back until every joint is min_depth_m in front."""
        T, zmin = self._root_parts(rel)
        return torch.cat([T[:, :2], torch.maximum(T[:, 2:], zmin)], -1)

    def projection(self, rel, root):
        """(B,) score-weighted mean distance of projected joints to the detected rays."""
        p = rel + root[:, None]
        # root() keeps every joint >= 0.3 m in front; the clamp only guards a jointly
        # optimised root from dividing by ~0 depth.
        z = p[..., 2:].clamp(min=_MIN_Z_M)
        e = (p[..., :2] / z - self.rays) * self.inv_scale
        return (_norm(e) * self.w).sum(-1)

    def loss(self, mu, mu0, s, options, root=None):
        """(B,) the refinement objective (the definition `gradients` differentiates)."""
        rel = mu - mu[:, :1]
        loss = options.lambda_unc * _uncertainty(mu, mu0, s)
        if options.lambda_proj > 0:
            loss = loss + options.lambda_proj * self.projection(rel, self.root(rel) if root is None else root)
        return loss

    def gradients(self, mu, mu0, s, options, root=None):
        """[d loss / d mu (B, 17, 3)] (+ [d loss / d root (B, 3)] when the root is a
        latent), derived by hand: a few dozen small kernels instead of an autograd graph
        over the same, which at batch 1 costs more than the maths (tests check it
        against autograd on `loss`)."""
        d = mu - mu0
        pull = torch.exp(-s) * (options.lambda_unc / NUM_JOINTS)  # (B, 17) weight of ||d_j||
        if options.lambda_proj == 0:
            g = d * (pull / _norm(d))[..., None]
            return [g] if root is None else [g, torch.zeros_like(root)]
        rel = mu - mu[:, :1]
        if root is None:
            T, zmin = self._root_parts(rel)
            guarded = T[:, 2:] < zmin                     # (B, 1) the depth guard is active
            p = rel + torch.cat([T[:, :2], torch.maximum(T[:, 2:], zmin)], -1)[:, None]
        else:
            p = rel + root[:, None]
        z = p[..., 2:]
        zc = z.clamp(min=_MIN_Z_M)
        q = p[..., :2] / zc
        e = (q - self.rays) * self.inv_scale
        dq = e * (self.w * options.lambda_proj / _norm(e))[..., None] * self.inv_scale
        dz = -(dq * q).sum(-1, keepdim=True) / zc * (z > _MIN_Z_M)
        dp = torch.cat([dq / zc, dz], -1)                 # d loss / d placed joints
        dT = dp.sum(1)                                    # (B, 3) d loss / d root
        if root is None:
            linear = torch.cat([dT[:, :2], dT[:, 2:] * ~guarded], -1)
            drel = dp + torch.einsum("bjil,bi->bjl", self.G, linear)
            # guarded: T_z = min_depth - Z of the nearest joint
            nearest = (self.min_depth_m - rel[..., 2]).argmax(-1, keepdim=True)
            drel[..., 2].scatter_add_(1, nearest, -dT[:, 2:] * guarded)  # (no host sync, unlike one_hot)
        else:
            drel = dp
        drel[:, 0] -= drel.sum(1)                         # rel = mu - mu[:, 0]
        g = drel + d * (pull / _norm(d))[..., None]
        if options.sticky:
            # ||d_j|| has a kink at d_j = 0 where autograd's gradient is 0, so Adam's first
            # step ignores the uncertainty term whatever lambda_unc. The minimum-norm
            # subgradient there is the projection pull shrunk by the uncertainty weight:
            # a joint at rest leaves only when the 2D evidence outweighs its confidence.
            shrink = (1 - pull / _norm(drel)).clamp(min=0)
            g = torch.where(((d * d).sum(-1) == 0)[..., None], drel * shrink[..., None], g)
        return [g] if root is None else [g, dT]


    def placement_jacobian(self):
        """(B, 17, 17, 3, 3) d P_j / d mu_m of the placed joints P = rel + root(rel),
        rel = mu - mu_0 (constant: the root is linear in the pose; guard not included)."""
        B = self.G.shape[0]
        eye = torch.eye(3, dtype=self.G.dtype, device=self.G.device)
        L = torch.zeros(B, NUM_JOINTS, NUM_JOINTS, 3, 3, dtype=self.G.dtype, device=self.G.device)
        idx = torch.arange(NUM_JOINTS, device=self.G.device)
        L[:, idx, idx] = eye
        L = L + self.G[:, None]
        L[:, :, 0] -= eye + self.G.sum(1)[:, None]
        return L

    def gauss_newton_step(self, mu, mu0, s, options, L):
        """One Gauss-Newton step on per-joint 3D positions for the squared objective
        lambda_proj sum_j w_j ||e_j||^2 + lambda_unc / 17 sum_j ||mu_j - mu0_j||^2 / sigma_j^2
        (a MAP estimate: the network's sigma as the prior's spread; the squared form of
        the two terms Adam minimises). Returns mu (B, 17, 3)."""
        B = mu.shape[0]
        rel = mu - mu[:, :1]
        p = rel + self.root(rel)[:, None]
        z = p[..., 2:].clamp(min=_MIN_Z_M)
        q = p[..., :2] / z
        e = (q - self.rays) * self.inv_scale                              # (B, 17, 2)
        sw = (self.w * options.lambda_proj).sqrt()[..., None]             # (B, 17, 1)
        zero = torch.zeros_like(z)
        de = torch.stack([torch.cat([1 / z, zero, -q[..., :1] / z], -1),
                          torch.cat([zero, 1 / z, -q[..., 1:] / z], -1)], -2)  # (B, 17, 2, 3)
        de = de * (self.inv_scale[..., None] * sw[..., None])
        J = torch.einsum("bjap,bjmpq->bjamq", de, L).reshape(B, 2 * NUM_JOINTS, 3 * NUM_JOINTS)
        prior = (options.lambda_unc / NUM_JOINTS) ** 0.5 * torch.exp(-s)   # (B, 17) 1 / sigma, weighted
        prior2 = (prior ** 2)[..., None].expand(B, NUM_JOINTS, 3).reshape(B, -1)
        H = J.transpose(1, 2) @ J + torch.diag_embed(prior2)
        g = (J.transpose(1, 2) @ (e * sw).reshape(B, -1, 1))[..., 0] + prior2 * (mu - mu0).reshape(B, -1)
        return mu - torch.linalg.solve(H, g).view(B, NUM_JOINTS, 3)


def _gelu_bw(grad, pre):
    return torch.ops.aten.gelu_backward(grad, pre)


def _ln_bw(grad, inp, mean, rstd, weight):
    return torch.ops.aten.native_layer_norm_backward(grad, inp, inp.shape[-1:], mean, rstd, weight, None,
                                                     [True, False, False])[0]


class _Fast:
    """GUMLP's forward and its input-gradient (VJP) written out by hand on the frozen
    weights: the same arithmetic as lifter.model (checked against autograd in the
    tests) with fewer kernels, no autograd bookkeeping and no weight gradients. At
    batch 1 the lifter is bound by per-kernel overhead, not by arithmetic, so this is
    what makes the input latent affordable. Folds that are exact in eval mode:
    the embedding's two linears (no activation between) into one; each head's
    LayerNorm affine and two linears into one matrix, both heads stacked (B, 17, 4);
    the graph convolution's sum over kernels into one (17, 17 K) matrix product.
    """

    def __init__(self, model):
        W = lambda t: t.detach()  # noqa: E731
        e1, e2 = model.embed[0], model.embed[1]
        self.E = W(e2.weight @ e1.weight)                      # (C, 2)
        self.e = W(e2.weight @ e1.bias + e2.bias)
        self.blocks = []
        for blk in model.blocks:
            A = blk.gcn.A                                       # (K, J, J)
            K, J, _ = A.shape
            self.blocks.append(dict(
                ln0=(W(blk.gcn_norm.weight), W(blk.gcn_norm.bias), blk.gcn_norm.eps),
                P=(W(blk.gcn.proj.weight), W(blk.gcn.proj.bias)),
                Ahat=A.permute(1, 2, 0).reshape(J, J * K).contiguous(),
                ln1=(W(blk.channel.norm.weight), W(blk.channel.norm.bias), blk.channel.norm.eps),
                down=(W(blk.channel.down.weight), W(blk.channel.down.bias)),
                mid=(W(blk.channel.mid.weight), W(blk.channel.mid.bias)),
                up=(W(blk.channel.up.weight), W(blk.channel.up.bias)),
                ln2=(W(blk.joint.norm.weight), W(blk.joint.norm.bias), blk.joint.norm.eps),
                l=[(W(m.weight), W(m.bias)) for m in (blk.joint.l1, blk.joint.l2, blk.joint.l3,
                                                       blk.joint.l4, blk.joint.l5)]))
        heads = []
        for h in (model.mean_head, model.sigma_head):
            w2w1 = h.fc2.weight @ h.fc1.weight
            heads.append((w2w1 * h.norm.weight, h.fc2.weight @ (h.fc1.weight @ h.norm.bias + h.fc1.bias) + h.fc2.bias))
        # both heads normalise the same feature; they share one normalisation (same eps)
        self.H = W(torch.cat([heads[0][0], heads[1][0]]))      # (4, C): mu xyz, s
        self.h = W(torch.cat([heads[0][1], heads[1][1]]))
        self.head_eps = model.mean_head.norm.eps

    def encode(self, z, cache=None):
        """(B, 17, 2) -> feature (B, 17, C); with a list `cache`, keep what vjp needs."""
        F = torch.nn.functional
        x = F.linear(z, self.E, self.e)
        for b in self.blocks:
            B, J, C = x.shape
            a, m0, r0 = torch.native_layer_norm(x, (C,), *b["ln0"])
            x1 = x + torch.matmul(b["Ahat"], F.linear(a, *b["P"]).view(B, -1, C))
            c, m1, r1 = torch.native_layer_norm(x1, (C,), *b["ln1"])
            d = F.linear(c, *b["down"])
            h1 = F.gelu(d)
            md = F.linear(h1, *b["mid"])
            t = x1.transpose(1, 2).contiguous()
            tn, m2, r2 = torch.native_layer_norm(t, (J,), *b["ln2"])
            l1, l2, l3, l4, l5 = b["l"]
            e1 = F.linear(tn, *l1)
            g1 = F.gelu(e1)
            e2 = F.linear(g1, *l2)
            g2 = F.gelu(e2)
            e3 = F.linear(g2, *l3)
            h3 = F.gelu(e3) + g2
            e4 = F.linear(h3, *l4)
            h4 = F.gelu(e4) + g1
            out = x1 + F.linear(F.gelu(md) + h1, *b["up"]) + F.linear(h4, *l5).transpose(1, 2)
            if cache is not None:
                cache.append((x, m0, r0, x1, m1, r1, d, md, t, m2, r2, e1, e2, e3, e4))
            x = out
        return x

    def encode_vjp(self, grad, cache):
        """d loss / d feature (B, 17, C) -> d loss / d input (B, 17, 2)."""
        for b, (x, m0, r0, x1, m1, r1, d, md, t, m2, r2, e1, e2, e3, e4) in zip(self.blocks[::-1], cache[::-1]):
            B, J, C = x.shape
            l1, l2, l3, l4, l5 = b["l"]
            # joint MLP (over the joint axis, on the transposed feature)
            dh4 = grad.transpose(1, 2) @ l5[0]
            dh3 = _gelu_bw(dh4, e4) @ l4[0]
            dg2 = _gelu_bw(dh3, e3) @ l3[0] + dh3
            dg1 = _gelu_bw(dg2, e2) @ l2[0] + dh4
            dtn = _gelu_bw(dg1, e1) @ l1[0]
            dx1 = grad + _ln_bw(dtn, t, m2, r2, b["ln2"][0]).transpose(1, 2)
            # channel MLP
            dsum = grad @ b["up"][0]
            dh1 = _gelu_bw(dsum, md) @ b["mid"][0] + dsum
            dx1 = dx1 + _ln_bw(_gelu_bw(dh1, d) @ b["down"][0], x1, m1, r1, b["ln1"][0])
            # graph convolution
            dp = (b["Ahat"].T @ dx1).view(B, J, -1) @ b["P"][0]
            grad = dx1 + _ln_bw(dp, x, m0, r0, b["ln0"][0])
        return grad @ self.E

    def decode(self, f):
        """feature (B, 17, C) -> mu (B, 17, 3), s (B, 17), and the normalisation for vjp."""
        n, mean, rstd = torch.native_layer_norm(f, f.shape[-1:], None, None, self.head_eps)
        out = torch.nn.functional.linear(n, self.H, self.h)
        return out[..., :3], out[..., 3], (f, mean, rstd)

    def decode_vjp(self, dmu, norm):
        """d loss / d mu (B, 17, 3) -> d loss / d feature (B, 17, C) (s is detached)."""
        f, mean, rstd = norm
        return _ln_bw(dmu @ self.H[:3], f, mean, rstd, None)


_FAST = weakref.WeakKeyDictionary()


def _fast(model):
    """The folded weights of `model`, rebuilt when a parameter changed (in place or moved)."""
    hit = _FAST.get(model)
    if hit is not None:
        params, key, fast = hit
        if key == tuple((p.data_ptr(), p._version) for p in params):
            return fast
    params = list(model.parameters())
    with torch.no_grad():
        fast = _Fast(model)
    _FAST[model] = (params, tuple((p.data_ptr(), p._version) for p in params), fast)
    return fast


class _Adam:
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


@torch.no_grad()
def _refine(fast, x, problem, options, record=None):
    """Run the refinement loop with the folded lifter `fast` (eval-mode arithmetic,
    whatever the module's train flag). x (B, 17, 2) float32 network input on the device.

    Returns mu0 (B, 17, 3), mu (B, 17, 3), s (B, 17), iterations run. A list `record`
    receives mu after 0, 1, ... iterations (each iteration's forward is the previous
    one's result, so one run gives the whole convergence curve).
    """
    if options.mode == "none" or options.iters == 0:
        mu0, s0, _ = fast.decode(fast.encode(x))
        if record is not None:
            record.append(mu0)
        return mu0, mu0, s0, 0
    feature_latent = options.mode == "uao-feature"
    if options.solver_used == "gn":
        return _refine_gn(fast, x, problem, options, record)
    latent = fast.encode(x) if feature_latent else x.clone()
    opt = _Adam(latent, options.lr_used)
    root = opt_root = mu0 = None
    start = time.perf_counter()
    done = 0
    for _ in range(options.iters):
        cache = None if feature_latent else []
        feat = latent if feature_latent else fast.encode(latent, cache)
        mu, s, norm = fast.decode(feat)
        if record is not None:
            record.append(mu.clone())
        if mu0 is None:  # the first iterate is the unrefined prediction
            mu0 = mu.clone()
            if options.root == "joint":
                root = problem.root(mu0 - mu0[:, :1]).requires_grad_(True)
                opt_root = _Adam(root, options.root_lr_m)
        grads = problem.gradients(mu, mu0, s, options, root)
        g = fast.decode_vjp(grads[0], norm)
        opt.step(g if feature_latent else fast.encode_vjp(g, cache))
        if root is not None:
            opt_root.step(grads[1])
        done += 1
        # Time check without reading device values: on CPU the clock is exact, on a GPU it
        # measures launch time, which is all a live loop can look at without a sync.
        if options.max_ms > 0 and (time.perf_counter() - start) * 1e3 >= options.max_ms:
            break
    mu, s, _ = fast.decode(latent if feature_latent else fast.encode(latent))
    if record is not None:
        record.append(mu.clone())
    return mu0, mu, s, done


def _refine_gn(fast, x, problem, options, record=None):
    """Gauss-Newton on the feature latent. The heads are LayerNorm -> affine, per joint,
    with a rank-3 map from each joint's feature to its position: every per-joint 3D
    displacement is reachable by some feature change, so the optimum over features of
    an objective on mu (s held at its first value, as the detached uncertainty term
    holds it) is the optimum over per-joint positions, which GN solves in 51 unknowns."""
    mu0, s0, _ = fast.decode(fast.encode(x))
    mu = mu0
    L = problem.placement_jacobian()
    start = time.perf_counter()
    done = 0
    if record is not None:
        record.append(mu0)
    for _ in range(options.iters):
        mu = problem.gauss_newton_step(mu, mu0, s0, options, L)
        done += 1
        if record is not None:
            record.append(mu)
        if options.max_ms > 0 and (time.perf_counter() - start) * 1e3 >= options.max_ms:
            break
    return mu0, mu, s0, done


def lift(model, keypoints_px, scores, intr, options=None, device=None, record=None):
    """Lift 2D keypoints to 3D and optionally refine with UAO.

    keypoints_px (B, 17, 2) lifter-order pixels (NaN = missing), scores (B, 17),
    intr: Intrinsics (fields may be (B, 1) arrays for per-frame cameras).
    record: optional list; receives the root-relative pose (B, 17, 3) numpy after 0, 1,
    ..., n iterations (convergence curves for benchmarks).
    Returns LiftResult; no ground truth is used anywhere.
    """
    options = options or RefineOptions()
    options.check()
    model_device = next(model.parameters()).device
    device = torch.device(device) if device is not None else model_device
    if device.type != model_device.type or device.index not in (None, model_device.index):
        raise ValueError(f"lift: model is on {model_device} but device {device} was asked for; "
                         f"load the model with that device")
    kp, sc = _check_inputs(keypoints_px, scores)
    B = kp.shape[0]
    if B == 0:
        z = np.zeros((0,), np.float32)
        return LiftResult(np.zeros((0, NUM_JOINTS, 3), np.float32), np.zeros((0, 3), np.float32),
                          np.zeros((0, NUM_JOINTS), np.float32), z, z.copy(), 0)
    w, valid = _weights(kp, sc, options.score_threshold)
    filled = fill_missing(np.nan_to_num(kp), valid)
    rays = pixels_to_rays(filled, intr)
    if model.config.get("input_norm", "rays") == "rays":
        x = normalise_rays(rays)
    else:
        x = normalise_keypoints(filled, intr, valid, model.config["input_norm"])
    problem = _Problem(rays, w, model_device)
    trace = None if record is None else []
    mu0, mu, s, done = _refine(_fast(model), torch.from_numpy(x).to(model_device), problem, options, trace)
    for m in trace or ():
        j = m.cpu().numpy()
        record.append(j - j[:, :1])
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
