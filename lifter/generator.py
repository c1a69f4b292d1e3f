"""Training samples from mocap: augmented 3D poses seen by random virtual cameras.

One call, `sample(pool, n, rng)`, makes a batch:
  1. pick frames (subjects weighted by sqrt(frames), so subject 105 does not dominate),
  2. synthesis (lifter/mocap/synthesis.py), each kept only inside the joint-limit table:
     recombination (seated/squatting/crouching legs with another frame's upper body),
     retargeting onto a real skeleton, hands to the face or a table, bone-angle turns,
  3. body size: global scale and per-segment (left/right symmetric) bone-length jitter,
     re-posing: random trunk bend, hip flexion and knee flexion about the body's
     left-right axis (sitting, crouching and bending poses the mocap lacks),
  4. a random camera: any yaw around the person, pitch -15..35 deg, slight roll, focal
     from a 40-95 deg horizontal FOV, image sizes of webcams, phones (portrait too)
     and Human3.6M, distance 1.8-9 m, person anywhere in frame but wholly inside it;
     or, for a share, a lab camera (lifter/lab_cameras.py),
  5. detector-like 2D noise on the projected points: per-joint jitter proportional to the
     person's image height, occasional outliers, per-sample hip-definition offsets,
  6. horizontal flip with probability 1/2,
then converts COCO -> lifter input with the same table the detectors use (or, for a
share of samples, Human3.6M-layout 2D with its own table, see lifter/skeleton.py).
"""
from dataclasses import dataclass

import numpy as np

from .camera import Intrinsics
from .lab_cameras import lab_cameras, lab_view
from .mocap.joint_limits import joint_angles, within_limits
from .mocap.points import COCO_OFFSET, POINT_PARENTS
from .mocap.synthesis import DESC, perturb_bones, reach, recombine, retarget, rotation_about
from .normalise import normalise_rays, normalise_screen
from .skeleton import COCO_FLIP_PERM, FLIP_PERM, JOINTS, to_lifter_input

IMAGE_SIZES = ((640, 480), (1280, 720), (1920, 1080), (1000, 1000), (720, 1280), (1080, 1920))
_J = {n: i for i, n in enumerate(JOINTS)}
# Segments scaled together (left/right share one factor): child joints of each group.
BONE_GROUPS = (("right_knee", "left_knee"), ("right_ankle", "left_ankle"),
               ("right_hip", "left_hip"), ("spine", "thorax"), ("neck_nose", "head"),
               ("right_shoulder", "left_shoulder"), ("right_elbow", "left_elbow"),
               ("right_wrist", "left_wrist"))


@dataclass
class AugmentConfig:
    scale_range: tuple = (0.85, 1.12)   # global body scale
    bone_jitter: float = 0.06           # per-segment relative std
    repose_prob: float = 0.5
    trunk_bend_deg: tuple = (-20.0, 85.0)
    hip_flex_deg: tuple = (-20.0, 110.0)
    knee_flex_deg: tuple = (0.0, 130.0)
    noise_frac: tuple = (0.0, 0.02)     # 2D jitter std as a fraction of person height
    outlier_prob: float = 0.02
    hip_offset_m: float = 0.03
    flip: bool = True
    h36m_input_prob: float = 0.3        # share of samples whose 2D is in Human3.6M's layout
    recombine_prob: float = 0.0         # lower body from pool.legs, upper body from the drawn frame
    retarget_prob: float = 0.0          # bone lengths of a random real skeleton (pool.bodies)
    reach_prob: float = 0.0             # one hand to the face or to table height (half each)
    perturb_prob: float = 0.0           # PoseAug-style limb-bone turns
    perturb_sd_deg: float = 8.0
    lab_camera_prob: float = 0.0        # share of lab-like cameras (lifter/lab_cameras.py)


_FLIP_ALL = list(FLIP_PERM) + [COCO_OFFSET + i for i in COCO_FLIP_PERM]


def scale_bones(points, rng, cfg):
    """(N, 34, 3) root-relative points -> the same poses with rescaled segments."""
    n = len(points)
    factor = np.ones((n, points.shape[1]))
    for group in BONE_GROUPS:
        f = 1 + rng.normal(0, cfg.bone_jitter, n).clip(-2.5 * cfg.bone_jitter, 2.5 * cfg.bone_jitter)
        for name in group:
            factor[:, _J[name]] = f
    factor *= rng.uniform(*cfg.scale_range, n)[:, None]
    return retarget(points, factor)


def _point_factor(joint_factor):
    """(N, 17) per-joint length factors -> (N, 34): each COCO marker's offset scales with
    the bone of the joint it hangs from."""
    return np.concatenate([joint_factor, joint_factor[:, list(POINT_PARENTS[COCO_OFFSET:])]], axis=1)


def synthesise(pts, body, pool, rng, cfg):
    """Step 2 of the module docstring on (N, 34, 3) root-relative points with their (N, 17)
    body factors; any synthesised pose outside the joint-limit table keeps its input."""
    n = len(pts)
    out, body = pts.copy(), body.copy()
    comb = (rng.random(n) < cfg.recombine_prob) & (len(pool.legs) > 0)
    if comb.any():
        legs = pool.legs[rng.integers(len(pool.legs), size=int(comb.sum()))]
        out[comb] = recombine(pool.points[legs].astype(np.float64), out[comb])
        lower = [_J[f"{s}_{j}"] for s in ("left", "right") for j in ("hip", "knee", "ankle")]
        body[np.ix_(comb, lower)] = pool.body[legs][:, lower]
    # recombined frames always go onto one body, so legs and trunk are one person's
    new_body = comb | (rng.random(n) < cfg.retarget_prob)
    if new_body.any() and len(pool.bodies):
        k = pool.bodies[rng.integers(len(pool.bodies), size=int(new_body.sum()))]
        out[new_body] = retarget(out[new_body], _point_factor(k / body[new_body]))
    for where, share in (("face", 0.5), ("table", 0.5)):
        sel = rng.random(n) < cfg.reach_prob * share
        side = rng.random(n) < 0.5
        for name, m in (("left", sel & side), ("right", sel & ~side)):
            if m.any():
                out[m] = reach(out[m], name, where, rng)
    sel = rng.random(n) < cfg.perturb_prob
    if sel.any():
        out[sel] = perturb_bones(out[sel], rng, cfg.perturb_sd_deg)
    changed = np.any(out != pts, axis=(1, 2))
    bad = changed & ~within_limits(out[:, :COCO_OFFSET])
    out[bad] = pts[bad]
    return out


def repose(points, rng, cfg):
    """Random trunk bend / hip / knee flexion about the body's left axis, in place (Y up)."""
    n = len(points)
    sel = rng.random(n) < cfg.repose_prob
    if not sel.any():
        return points
    p = points[sel]
    m = len(p)
    left = p[:, _J["left_hip"]] - p[:, _J["right_hip"]]
    left[:, 1] = 0
    left /= np.linalg.norm(left, axis=-1, keepdims=True) + 1e-9
    # a positive angle about +left turns +up towards forward (= left x up): a forward bend

    def turn(child, pivot, lo_hi, prob):
        ang = np.radians(rng.uniform(*lo_hi, m)) * (rng.random(m) < prob)
        R = rotation_about(left, ang)
        idx = DESC[_J[child]]
        piv = p[:, _J[pivot]][:, None]
        p[:, idx] = np.einsum("nij,nkj->nki", R, p[:, idx] - piv) + piv

    before = p.copy()
    turn("spine", "pelvis", cfg.trunk_bend_deg, 0.6)
    for side in ("left", "right"):
        turn(f"{side}_knee", f"{side}_hip", cfg.hip_flex_deg, 0.6)
        turn(f"{side}_ankle", f"{side}_knee", tuple(-a for a in cfg.knee_flex_deg[::-1]), 0.5)
    bad = ~within_limits(p[:, :COCO_OFFSET])
    p[bad] = before[bad]  # a re-posing past the joint limits is dropped
    points[sel] = p
    return points


def random_cameras(n, rng):
    """Random pinhole cameras: focal (N,), principal point (N, 2), image size (N, 2)."""
    size = np.array(IMAGE_SIZES, float)[rng.integers(len(IMAGE_SIZES), size=n)]
    hfov = np.radians(rng.uniform(40, 95, n))
    f = 0.5 * np.maximum(size[:, 0], size[:, 1] * 0.75) / np.tan(hfov / 2)
    c = size / 2 + rng.normal(0, 0.01, (n, 2)) * size
    return f, c, size


def view(points, rng, f, c, size, max_tries=6):
    """Root-relative world points (N, P, 3) Y-up -> camera-frame points (N, P, 3), metres,
    and their pixels (N, P, 2), with random yaw/pitch/roll and a position that keeps
    every point inside the image (rare misses after max_tries keep their last try)."""
    n = len(points)
    yaw, pitch = rng.uniform(0, 2 * np.pi, n), np.radians(rng.uniform(-15, 35, n))
    roll = np.radians(rng.normal(0, 3, n))
    up = np.tile([0.0, 1.0, 0.0], (n, 1))
    R = rotation_about(up, yaw)
    # Y-up world -> camera axes (x right, y down, z forward): a half turn about x. Flipping
    # y alone would mirror the body (left and right sides swap places, labels do not).
    cam = np.einsum("nij,npj->npi", R, points) * np.array([1.0, -1.0, -1.0])
    R = rotation_about(np.tile([1.0, 0, 0], (n, 1)), -pitch) @ rotation_about(np.tile([0, 0, 1.0], (n, 1)), roll)
    cam = np.einsum("nij,npj->npi", R, cam)
    depth = rng.uniform(1.8, 9.0, n)
    todo = np.ones(n, bool)
    out, out_px = np.empty_like(cam), np.empty(cam.shape[:2] + (2,))
    for _ in range(max_tries):
        idx = np.flatnonzero(todo)
        half = (size[idx] / 2)[:, None]
        ray = rng.uniform(-0.8, 0.8, (len(idx), 2)) * (half[:, 0] / f[idx, None])
        T = np.concatenate([ray * depth[idx, None], depth[idx, None]], -1)
        P = cam[idx] + T[:, None]
        px = P[..., :2] / np.maximum(P[..., 2:], 1e-3) * f[idx, None, None] + c[idx, None]
        inside = (P[..., 2] > 0.3).all(-1) & (px >= 0).all((-1, -2)) & (px <= size[idx, None]).all((-1, -2))
        out[idx], out_px[idx] = P, px
        todo[idx[inside]] = False
        depth[idx[~inside]] *= 1.35
        if not todo.any():
            break
    return out, out_px


def detector_noise(coco_px, rng, cfg):
    """(N, 17, 2) clean COCO pixels -> noisy pixels and detector-like scores (N, 17)."""
    n = len(coco_px)
    height = np.ptp(coco_px[..., 1], axis=1)[:, None, None] + 1e-6
    sd = rng.uniform(*cfg.noise_frac, n)[:, None, None] * height
    noise = rng.normal(size=coco_px.shape) * sd
    out = rng.random(coco_px.shape[:2]) < cfg.outlier_prob
    jump = rng.uniform(0.05, 0.3, coco_px.shape[:2])[..., None] * height
    ang = rng.uniform(0, 2 * np.pi, coco_px.shape[:2])
    noise += out[..., None] * jump * np.stack([np.cos(ang), np.sin(ang)], -1)
    err = np.linalg.norm(noise, axis=-1) / height[..., 0]
    scores = np.clip(1.0 - 4 * err + rng.normal(0, 0.05, err.shape), 0.05, 1.0)
    return coco_px + noise, scores


@dataclass
class Pool:
    """Frames to sample from: points (M, 34, 3) root-relative, probabilities (M,)."""
    points: np.ndarray
    prob: np.ndarray
    action: np.ndarray  # (M,) action label per frame
    body: np.ndarray    # (M, 17) length factors of each frame's body (lifter/mocap/bodies.py)
    bodies: np.ndarray  # (K, 17) the distinct real skeletons among the frames
    legs: np.ndarray    # frames whose lower body sits, squats or crouches (recombination sources)


# A lower body worth recombining: both knees or both hips flexed past this (degrees).
LEGS_FLEXION_DEG = 60.0


def make_pool(trials):
    if not trials:
        raise ValueError("no mocap frames to sample from")
    pts = np.concatenate([t.points for t in trials])
    pts = pts - pts[:, :1]
    per_subject = {}
    for t in trials:
        per_subject[t.subject] = per_subject.get(t.subject, 0) + len(t.points)
    prob = np.concatenate([np.full(len(t.points), np.sqrt(per_subject[t.subject]) / per_subject[t.subject])
                           for t in trials])
    action = np.concatenate([np.full(len(t.points), t.action) for t in trials])
    body = np.concatenate([np.broadcast_to(t.body, (len(t.points), len(JOINTS))) for t in trials])
    real = {t.figure: t.body for t in trials if t.figure.startswith("asf_")}
    bodies = np.array(list(real.values()), np.float32).reshape(-1, len(JOINTS))
    a = joint_angles(pts[:, :COCO_OFFSET].astype(np.float64))
    legs = np.flatnonzero(((a["knee_flexion"] > LEGS_FLEXION_DEG).all(-1) | (a["hip_flexion"] > LEGS_FLEXION_DEG).all(-1))
                          & within_limits(pts[:, :COCO_OFFSET].astype(np.float64)))
    return Pool(pts.astype(np.float32), prob / prob.sum(), action, body.astype(np.float32), bodies, legs)


def sample(pool, n, rng, cfg=AugmentConfig(), input_norm="rays", index=None, augment=True, noise=True):
    """A batch of n samples. Returns dict with
    x (n, 17, 2) float32 network input, target_m (n, 17, 3) float32 camera-frame
    root-relative joints, keypoints_px (n, 17, 2) noisy lifter-order 2D, scores (n, 17),
    root_m (n, 3), f, c, size (per-sample camera), index (n,) pool frames used."""
    if index is None:
        index = rng.choice(len(pool.points), size=n, p=pool.prob)
    pts = pool.points[index].astype(np.float64)
    if augment:
        pts = synthesise(pts, pool.body[index].astype(np.float64), pool, rng, cfg)
        pts = repose(scale_bones(pts, rng, cfg), rng, cfg)
        left = pts[:, _J["left_hip"]] - pts[:, _J["right_hip"]]
        left /= np.linalg.norm(left, axis=-1, keepdims=True) + 1e-9
        hip = rng.uniform(-cfg.hip_offset_m, cfg.hip_offset_m, (n, 2))  # (outward, up)
        for k, name in ((COCO_OFFSET + 11, "left"), (COCO_OFFSET + 12, "right")):
            sign = 1.0 if name == "left" else -1.0
            pts[:, k] += sign * hip[:, :1] * left + hip[:, 1:] * np.array([0, 1.0, 0])
    f, c, size = random_cameras(n, rng)
    cam, px = view(pts, rng, f, c, size)  # px: all 34 points
    lab = rng.random(n) < (cfg.lab_camera_prob if augment else 0.0)
    if lab.any():
        lf, lc, lsize = lab_cameras(int(lab.sum()), rng)
        lcam, lpx, ok = lab_view(pts[lab], rng, lf, lc, lsize)
        idx = np.flatnonzero(lab)[ok]  # a lab camera that misses the person keeps the wide one
        f[idx], c[idx], size[idx], cam[idx], px[idx] = lf[ok], lc[ok], lsize[ok], lcam[ok], lpx[ok]
    scores = np.ones(px.shape[:2])
    if noise:
        px, scores = detector_noise(px, rng, cfg)
    target = cam[:, :COCO_OFFSET] - cam[:, :1]
    root = cam[:, 0].copy()
    if augment and cfg.flip:
        flip = rng.random(n) < 0.5
        px[flip] = px[flip][:, _FLIP_ALL]
        px[flip, :, 0] = 2 * c[flip, None, 0] - px[flip, :, 0]
        scores[flip] = scores[flip][:, _FLIP_ALL]
        target[flip] = target[flip][:, FLIP_PERM] * np.array([-1.0, 1, 1])
        root[flip, 0] *= -1  # the mirrored scene, seen by the mirrored camera
    # the 2D source layout: mostly detector (COCO) points, sometimes Human3.6M-layout 2D
    h36m = rng.random(n) < (cfg.h36m_input_prob if augment else 0.0)
    kp, sc = to_lifter_input(px[:, COCO_OFFSET:], scores[:, COCO_OFFSET:], "coco17")
    kp_h, sc_h = to_lifter_input(px[h36m, :COCO_OFFSET], scores[h36m, :COCO_OFFSET], "h36m17")
    kp[h36m], sc[h36m] = kp_h, sc_h
    if input_norm == "screen":
        x = normalise_screen(kp, size[:, :1], size[:, 1:])
    else:
        x = normalise_rays((kp - c[:, None]) / f[:, None, None])
    return {"x": x.astype(np.float32), "target_m": target.astype(np.float32),
            "keypoints_px": kp.astype(np.float32), "scores": sc.astype(np.float32),
            "root_m": root.astype(np.float32), "f": f, "c": c, "size": size, "index": index}


def batch_intrinsics(batch):
    """Per-sample Intrinsics with (N, 1) array fields, for lift() and evaluation."""
    f, c, size = batch["f"][:, None], batch["c"], batch["size"]
    return Intrinsics(f, f.copy(), c[:, :1], c[:, 1:], size[:, :1], size[:, 1:])


def eval_samples(mocap_dirs, subjects, n_samples, seed=0, cfg=AugmentConfig()):
    """Fixed-seed held-out test set: every sample drawn from `subjects` with the noise
    model but no body/pose augmentation (the poses are the real captured ones)."""
    from .data import load_trials
    trials = load_trials(mocap_dirs, subjects=set(subjects))
    if not trials:
        raise ValueError(f"no mocap trials for subjects {sorted(subjects)} in {mocap_dirs}")
    pool = make_pool(trials)
    rng = np.random.default_rng(seed)
    index = rng.choice(len(pool.points), size=min(n_samples, len(pool.points)), replace=False, p=pool.prob)
    b = sample(pool, len(index), rng, cfg, index=index, augment=False, noise=True)
    b["intr"] = batch_intrinsics(b)
    b["action"] = pool.action[index]
    b["joints_m"] = b.pop("target_m")
    return b

