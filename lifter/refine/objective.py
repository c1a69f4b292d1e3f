"""The refinement objective of one batch of frames: projection onto the detected rays
(score-weighted) plus the uncertainty term, with the root placed by the one closed-form
solve of lifter/camera.py; its hand-written gradient and its Gauss-Newton step."""
import numpy as np
import torch

from ..camera import place_root, project, root_map
from ..skeleton import NUM_JOINTS

# Depth floor of the projection's division: place_root keeps every joint 0.3 m in front,
# this only guards a jointly optimised root (root="joint") from dividing by ~0.
PROJECTION_MIN_Z_M = 0.05


def projection_weights(keypoints_px, scores, threshold):
    """(B, 17) projection weights (the detector score; 0 below threshold / NaN / missing)
    and (B, 17) bool validity of the 2D joints."""
    valid = np.isfinite(keypoints_px).all(-1) & np.isfinite(scores)
    return np.where(valid & (scores >= threshold), np.nan_to_num(scores), 0.0), valid


def reprojection_error_px(joints_m, root_m, keypoints_px, weights, intr):
    """(B,) weighted mean pixel distance between projected joints and 2D keypoints."""
    proj = project(joints_m + root_m[:, None], intr)
    d = np.linalg.norm(proj - np.where(weights[..., None] > 0, keypoints_px, proj), axis=-1)
    return (d * weights).sum(-1) / np.maximum(weights.sum(-1), 1e-9)


def norm(v):
    """Euclidean norm over the last axis with a zero (not NaN) gradient at 0."""
    return torch.sqrt((v * v).sum(-1) + 1e-12)


def uncertainty(mu, mu0, s):
    """(B,) the authors' term: mean_j ||mu_j - mu0_j|| exp(-s_j), s detached."""
    return (norm(mu - mu0) * torch.exp(-s)).mean(-1)


class FrameProblem:
    """The per-frame constants of one refinement, as tensors on the device.

    rays (B, 17, 2) undistorted detected rays (missing joints filled, weight 0),
    w (B, 17) projection weights normalised to sum 1 per frame (or all 0),
    inv_scale (B, 1, 1) 1 / RMS spread of the rays: residuals in network-input units,
    free of focal length, image size and distance, so one lambda serves every camera,
    G (B, 17, 3, 3) the closed-form root as a linear map of the root-relative joints
    (camera.root_map; camera.place_root adds the depth guard).
    """

    def __init__(self, rays, weights, device, dtype=torch.float32):
        centred = rays - rays[:, :1]
        scale = np.sqrt((centred ** 2).sum(-1).mean(-1))
        wsum = weights.sum(-1, keepdims=True)
        as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)  # noqa: E731
        self.rays, self.G = as_t(rays), as_t(root_map(rays, weights))
        self.w = as_t(weights / np.maximum(wsum, 1e-12))
        self.inv_scale = as_t(1.0 / np.maximum(scale, 1e-6))[:, None, None]

    def root(self, rel):
        """(B, 3) guarded least-squares root of rel (B, 17, 3) (camera.place_root)."""
        return place_root(rel, self.G)[0]

    def projection(self, rel, root):
        """(B,) score-weighted mean distance of projected joints to the detected rays."""
        p = rel + root[:, None]
        z = p[..., 2:].clamp(min=PROJECTION_MIN_Z_M)
        e = (p[..., :2] / z - self.rays) * self.inv_scale
        return (norm(e) * self.w).sum(-1)

    def loss(self, mu, mu0, s, options, root=None):
        """(B,) the refinement objective (the definition `gradients` differentiates)."""
        rel = mu - mu[:, :1]
        loss = options.lambda_unc * uncertainty(mu, mu0, s)
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
            g = d * (pull / norm(d))[..., None]
            return [g] if root is None else [g, torch.zeros_like(root)]
        rel = mu - mu[:, :1]
        if root is None:
            placed, jac = place_root(rel, self.G)
            p = rel + placed[:, None]
        else:
            p = rel + root[:, None]
        z = p[..., 2:]
        zc = z.clamp(min=PROJECTION_MIN_Z_M)
        q = p[..., :2] / zc
        e = (q - self.rays) * self.inv_scale
        dq = e * (self.w * options.lambda_proj / norm(e))[..., None] * self.inv_scale
        dz = -(dq * q).sum(-1, keepdim=True) / zc * (z > PROJECTION_MIN_Z_M)
        dp = torch.cat([dq / zc, dz], -1)                 # d loss / d placed joints
        dT = dp.sum(1)                                    # (B, 3) d loss / d root
        drel = dp + torch.einsum("bjil,bi->bjl", jac, dT) if root is None else dp
        drel[:, 0] -= drel.sum(1)                         # rel = mu - mu[:, 0]
        g = drel + d * (pull / norm(d))[..., None]
        if options.sticky:
            # ||d_j|| has a kink at d_j = 0 where autograd's gradient is 0, so Adam's first
            # step ignores the uncertainty term whatever lambda_unc. The minimum-norm
            # subgradient there is the projection pull shrunk by the uncertainty weight:
            # a joint at rest leaves only when the 2D evidence outweighs its confidence.
            shrink = (1 - pull / norm(drel)).clamp(min=0)
            g = torch.where(((d * d).sum(-1) == 0)[..., None], drel * shrink[..., None], g)
        return [g] if root is None else [g, dT]

    def linearise(self, mu, lambda_proj):
        """The weighted projection residuals r (B, 34) = sqrt(lambda_proj w) e and their
        Jacobian J (B, 34, 51) with respect to mu (B, 17, 3), for Gauss-Newton: the
        joints are placed at rel + root(rel), rel = mu - mu_0, and the root's own
        Jacobian (camera.place_root) carries the depth guard."""
        B = mu.shape[0]
        rel = mu - mu[:, :1]
        root, jac = place_root(rel, self.G)                               # jac (B, 17, 3, 3)
        p = rel + root[:, None]
        z = p[..., 2:].clamp(min=PROJECTION_MIN_Z_M)
        q = p[..., :2] / z
        sw = (self.w * lambda_proj).sqrt()[..., None]                     # (B, 17, 1)
        r = ((q - self.rays) * self.inv_scale * sw).reshape(B, -1)
        zero = torch.zeros_like(z)
        de = torch.stack([torch.cat([1 / z, zero, -q[..., :1] / z], -1),
                          torch.cat([zero, 1 / z, -q[..., 1:] / z], -1)], -2)  # (B, 17, 2, 3) de_j / dP_j
        de = de * (self.inv_scale[..., None] * sw[..., None])
        # dP_j / drel_m = delta_jm I + jac_m; rel_m = mu_m - mu_0 moves every column into mu_0's
        J = torch.einsum("bjap,bmpq->bjamq", de, jac)                     # (B, 17, 2, 17, 3)
        idx = torch.arange(NUM_JOINTS, device=mu.device)
        J[:, idx, :, idx] += de.transpose(0, 1)
        J[:, :, :, 0] -= J.sum(3)
        return r, J.reshape(B, 2 * NUM_JOINTS, 3 * NUM_JOINTS)

    def gauss_newton_system(self, mu, mu0, s, options):
        """H (B, 51, 51) and g (B, 51) of the squared objective at mu
        lambda_proj sum_j w_j ||e_j||^2 + lambda_unc / 17 sum_j ||mu_j - mu0_j||^2 / sigma_j^2
        (a MAP estimate: the network's sigma as the prior's spread; the squared form of
        the two terms Adam minimises): the step is -H^-1 g."""
        B = mu.shape[0]
        r, J = self.linearise(mu, options.lambda_proj)
        prior2 = (options.lambda_unc / NUM_JOINTS) * torch.exp(-2 * s)    # (B, 17) 1 / sigma^2, weighted
        prior2 = prior2[..., None].expand(B, NUM_JOINTS, 3).reshape(B, -1)
        H = J.transpose(1, 2) @ J + torch.diag_embed(prior2)
        g = (J.transpose(1, 2) @ r[..., None])[..., 0] + prior2 * (mu - mu0).reshape(B, -1)
        return H, g

    def gauss_newton_step(self, mu, mu0, s, options):
        """One Gauss-Newton step on per-joint 3D positions: mu (B, 17, 3) -> mu."""
        H, g = self.gauss_newton_system(mu, mu0, s, options)
        return mu - torch.linalg.solve(H, g).view(mu.shape)
