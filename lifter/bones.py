"""A person's bone lengths: measured per frame, estimated robustly per track, imposed.

A person's bones do not change length, but a per-frame lifter's output does: on the
demo clip the summed bone length of one man varies 3.46-4.05 m (5-95 %). The root
depth follows that size (a bigger skeleton must stand farther away to project onto the
same 2D keypoints), so holding the size steady also steadies the depth. Scaling an
absolute camera-frame pose about the camera centre leaves its projection unchanged,
which is why `scale_to_size` multiplies the root by the same factor as the joints.
"""
import numpy as np

from .skeleton import BONES, LEFT, RIGHT

# bone index (0..15, order of BONES) of each left bone and its mirrored right bone;
# a bone is named by its child joint, and BONES lists them in child order
_CHILD_TO_BONE = {c: b for b, (_, c) in enumerate(BONES)}
SYMMETRIC_BONES = tuple((_CHILD_TO_BONE[l], _CHILD_TO_BONE[r]) for l, r in zip(LEFT, RIGHT))
_PARENT = np.array([p for p, _ in BONES])
_CHILD = np.array([c for _, c in BONES])


def bone_lengths_m(joints_m):
    """(..., 17, 3) -> (..., 16) bone lengths in the order of lifter.skeleton.BONES."""
    return np.linalg.norm(joints_m[..., _CHILD, :] - joints_m[..., _PARENT, :], axis=-1)


def bone_weights(sigma_m, scores=None, score_min=0.5):
    """Confidence of each measured bone (..., 16): 1 / (sigma_parent^2 + sigma_child^2),
    zero where either end scored below score_min or is missing (NaN)."""
    sigma = np.asarray(sigma_m, np.float64)
    w = 1.0 / (sigma[..., _PARENT] ** 2 + sigma[..., _CHILD] ** 2 + 1e-6)
    if scores is not None:
        s = np.asarray(scores, np.float64)
        ok = (s[..., _PARENT] >= score_min) & (s[..., _CHILD] >= score_min)
        w = np.where(ok, w, 0.0)
    return np.where(np.isfinite(w), w, 0.0)


def _weighted_median(values, weights):
    """Weighted median along axis 0 of (T, K) arrays; NaN where a column has no weight."""
    order = np.argsort(values, axis=0)
    v = np.take_along_axis(values, order, 0)
    cw = np.cumsum(np.take_along_axis(weights, order, 0), axis=0)
    total = cw[-1]
    idx = (cw < 0.5 * total[None]).sum(0)
    out = v[np.minimum(idx, len(v) - 1), np.arange(v.shape[1])]
    return np.where(total > 0, out, np.nan)


def robust_bone_lengths_m(lengths_m, weights):
    """Per-frame lengths (T, 16) + weights (T, 16) -> one length per bone (16,): the
    weighted median over the confident frames, left and right bones pooled (a body is
    symmetric; pooling halves the noise). NaN for a bone never seen confidently."""
    lengths = np.asarray(lengths_m, np.float64)
    w = np.where(np.isfinite(lengths), weights, 0.0)
    lengths = np.where(np.isfinite(lengths), lengths, 0.0)
    left, right = (np.array(i) for i in zip(*SYMMETRIC_BONES))
    pooled_v = np.concatenate([lengths[:, left], lengths[:, right]], 0)
    pooled_w = np.concatenate([w[:, left], w[:, right]], 0)
    out = _weighted_median(lengths, w)
    both = _weighted_median(pooled_v, pooled_w)
    out[left], out[right] = both, both
    return out


def size_scale(lengths_m, weights, reference_m):
    """Per-frame factor s (T,) = weighted sum of reference lengths / weighted sum of the
    frame's lengths (a ratio of sums: noise in a frame's lengths biases it less than a
    least-squares fit would); 1 where nothing confident was measured."""
    ok = np.isfinite(lengths_m) & np.isfinite(reference_m)[None]
    w = np.where(ok, weights, 0.0)
    num = (w * np.where(ok, reference_m[None], 0.0)).sum(-1)
    den = (w * np.where(ok, lengths_m, 0.0)).sum(-1)
    return np.where(den > 0, num / np.maximum(den, 1e-12), 1.0)


def project_bone_lengths(joints_m, reference_m, variance, iters=12):
    """(..., 17, 3) root-relative joints -> joints whose bones approach the reference
    lengths (16,), each bone's length error shared between its two ends in proportion to
    their variances (..., 17) (the less certain end moves more; the pelvis stays put).
    Unlike forward kinematics this does not pass a parent's error on to its whole chain.
    Jacobi iterations: all bones at once, each joint moved by the mean of its bones'
    corrections. Bones with a NaN reference keep their length."""
    X = np.array(joints_m, np.float64)
    var = np.array(np.broadcast_to(variance, X.shape[:-1]), np.float64)
    finite = np.isfinite(var)
    var = np.where(finite, var, np.max(var[finite]) if finite.any() else 1.0)
    var[..., 0] = 0.0
    known = np.isfinite(reference_m)
    parent, child, ref = _PARENT[known], _CHILD[known], reference_m[known]
    total = var[..., parent] + var[..., child]
    share_p = np.where(total > 0, var[..., parent] / np.maximum(total, 1e-30), 0.0)[..., None]
    share_c = np.where(total > 0, var[..., child] / np.maximum(total, 1e-30), 0.0)[..., None]
    to_parent = np.eye(X.shape[-2])[:, parent]        # (17, bones): bone -> its parent joint
    to_child = np.eye(X.shape[-2])[:, child]
    degree = np.maximum(to_parent.sum(1) + to_child.sum(1), 1.0)[:, None]
    to_parent, to_child = to_parent / degree, to_child / degree
    ref = ref[:, None]
    for _ in range(iters):
        d = X[..., child, :] - X[..., parent, :]
        fix = d * (1.0 - ref / np.maximum(np.sqrt((d * d).sum(-1, keepdims=True)), 1e-9))
        X += to_parent @ (fix * share_p) - to_child @ (fix * share_c)
    return X
