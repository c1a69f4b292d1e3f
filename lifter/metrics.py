"""Pose metrics on arrays: (N, J, 3) predictions and targets in the same units."""
import numpy as np


def mpjpe(pred, target):
    """(N,) mean per-joint position error."""
    return np.linalg.norm(pred - target, axis=-1).mean(-1)


def per_joint_error(pred, target):
    """(N, J) Euclidean error of every joint."""
    return np.linalg.norm(pred - target, axis=-1)


def procrustes_align(pred, target):
    """Similarity-align each predicted pose to its target (rotation, scale, translation),
    as Protocol 2 prescribes. Reflections are excluded. Returns aligned (N, J, 3)."""
    mu_p, mu_t = pred.mean(1, keepdims=True), target.mean(1, keepdims=True)
    p, t = pred - mu_p, target - mu_t
    H = np.einsum("nji,njk->nik", p, t)  # (N, 3, 3) cross-covariance
    U, S, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.einsum("nij,njk->nik", U, Vt)))
    D = np.ones_like(S)
    D[:, -1] = d
    R = np.einsum("nij,nj,njk->nik", U, D, Vt)  # applied as p @ R
    scale = (S * D).sum(-1) / np.maximum((p ** 2).sum((1, 2)), 1e-12)
    return scale[:, None, None] * np.einsum("nji,nik->njk", p, R) + mu_t


def p_mpjpe(pred, target):
    """(N,) MPJPE after a per-pose similarity alignment."""
    return mpjpe(procrustes_align(pred, target), target)


def pearson(a, b):
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-30))


def spearman(a, b):
    rank = lambda v: np.argsort(np.argsort(np.ravel(v), kind="stable"), kind="stable")
    return pearson(rank(a), rank(b))
