"""Pinhole camera with OpenCV-style distortion: intrinsics, projection, pixel <-> ray.

Functions work on numpy arrays and on torch tensors alike (only elementwise maths), so
the training generator, the UAO refiner and the app share one projection.
Units: pixels for image points, metres for 3D points, "rays" for intrinsics-normalised
image points ((u - cx) / fx, (v - cy) / fy), i.e. X / Z and Y / Z of the camera frame.
"""
import math
from dataclasses import dataclass, field

import numpy as np

# Horizontal field of view assumed when no calibration is given. Laptop and USB webcams
# sit around 60-78 degrees horizontally (e.g. 70 degrees for a Logitech C920 at 16:9),
# phone main cameras 63-70: 65 is the middle of that range.
DEFAULT_HFOV_DEG = 65.0


@dataclass
class Intrinsics:
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    # OpenCV order (k1, k2, p1, p2, k3); all zero means no distortion.
    dist: tuple = field(default=(0.0, 0.0, 0.0, 0.0, 0.0))
    # Batches seen by several cameras: every field may also be a (B, 1) array.

    @property
    def has_distortion(self):
        return any(np.any(np.asarray(d) != 0) for d in self.dist)

    def as_dict(self):
        return {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy,
                "width": self.width, "height": self.height, "dist": list(self.dist)}

    def scaled(self, factor):
        """The same camera for an image resized by `factor` (distortion is scale-free)."""
        return Intrinsics(self.fx * factor, self.fy * factor, self.cx * factor, self.cy * factor,
                          round(self.width * factor), round(self.height * factor), self.dist)


def intrinsics_from_fov(width, height, hfov_deg=DEFAULT_HFOV_DEG):
    """Square pixels, principal point at the image centre, focal from a horizontal FOV."""
    if not 1.0 < hfov_deg < 179.0:
        raise ValueError(f"field of view {hfov_deg} deg is outside (1, 179)")
    f = 0.5 * width / math.tan(math.radians(hfov_deg) / 2)
    return Intrinsics(f, f, width / 2.0, height / 2.0, int(width), int(height))


def _dist5(d):
    d = [float(v) for v in np.asarray(d, dtype=np.float64).ravel()] + [0.0] * 5
    return tuple(d[:5])  # k4..k6 of the rational model are ignored


def load_calibration(path):
    """Intrinsics from an OpenCV calibration file (YAML/XML as cv2.FileStorage writes them, or JSON).

    Accepted keys: camera_matrix | K | cameraMatrix | mtx (3x3), distortion_coefficients |
    dist_coeffs | distCoeffs | D | dist (optional), image_width/image_height | width/height.
    A damaged file is a one-line ValueError naming it (lifter.calibration parses safely).
    """
    from .calibration import read_calibration
    K, D, w, h = read_calibration(path)
    return Intrinsics(float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]),
                      int(w or max(1, round(2 * K[0, 2]))), int(h or max(1, round(2 * K[1, 2]))),
                      _dist5(D) if D is not None else (0.0,) * 5)


def _stack(parts):
    if isinstance(parts[0], np.ndarray):
        return np.stack(parts, axis=-1)
    import torch
    return torch.stack(parts, dim=-1)


def distort_rays(xy, dist):
    """Apply OpenCV radial/tangential distortion to rays (..., 2)."""
    k1, k2, p1, p2, k3 = dist
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return _stack([xd, yd])


def undistort_rays(xy_d, dist, iterations=8):
    """Invert distort_rays by fixed-point iteration (OpenCV's undistortPoints scheme)."""
    k1, k2, p1, p2, k3 = dist
    xy = xy_d
    for _ in range(iterations):
        x, y = xy[..., 0], xy[..., 1]
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        xy = _stack([(xy_d[..., 0] - dx) / radial, (xy_d[..., 1] - dy) / radial])
    return xy


def rays_to_pixels(xy, intr, distort=True):
    if distort and intr.has_distortion:
        xy = distort_rays(xy, intr.dist)
    return _stack([xy[..., 0] * intr.fx + intr.cx, xy[..., 1] * intr.fy + intr.cy])


def pixels_to_rays(px, intr, undistort=True):
    """(..., 2) pixels -> (..., 2) rays (X/Z, Y/Z), removing lens distortion."""
    xy = _stack([(px[..., 0] - intr.cx) / intr.fx, (px[..., 1] - intr.cy) / intr.fy])
    if undistort and intr.has_distortion:
        xy = undistort_rays(xy, intr.dist)
    return xy


def project(points_cam_m, intr, distort=True):
    """(..., 3) camera-frame points (Z forward, metres) -> (..., 2) pixels."""
    z = points_cam_m[..., 2]
    xy = _stack([points_cam_m[..., 0] / z, points_cam_m[..., 1] / z])
    return rays_to_pixels(xy, intr, distort)


def world_to_camera(points_world, R_world_to_cam, cam_centre_world):
    """X_cam = R (X_world - C); points (..., 3), R (3, 3), C (3,), same units."""
    return (np.asarray(points_world) - cam_centre_world) @ np.asarray(R_world_to_cam).T


def camera_to_world(points_cam, R_world_to_cam, cam_centre_world):
    return np.asarray(points_cam) @ np.asarray(R_world_to_cam) + cam_centre_world


# Depth floor of the root solve: every joint at least this far in front of the camera
# (the linear least-squares solve has no notion of "in front").
MIN_DEPTH_M = 0.3


def _xp(a):
    if isinstance(a, np.ndarray):
        return np
    import torch
    return torch


def root_map(rays, weights):
    """(B, J, 3, 3) G: the unguarded least-squares root is T = sum_j G_j X_j.

    rays (B, J, 2) undistorted rays, weights (B, J) (0 = ignore; NaN rays must carry
    weight 0). Each joint gives two equations linear in T, A_j T = b_j with
    A_j = [[1, 0, -x], [0, 1, -y]] and b_j = [x Z - X, y Z - Y] = -A_j X_j, so the normal
    equations K T = -sum_j w_j A_j^T A_j X_j have a matrix K fixed by rays and weights:
    the root is a linear map of the root-relative joints. numpy or torch.
    """
    xp = _xp(rays)
    x, y = rays[..., 0], rays[..., 1]
    zero, one = x * 0, x * 0 + 1
    A = xp.stack([xp.stack([one, zero, -x], -1), xp.stack([zero, one, -y], -1)], -2)  # (B, J, 2, 3)
    wAA = xp.einsum("bj,bjki,bjkl->bjil", weights, A, A)                                # (B, J, 3, 3)
    eye = np.eye(3) if xp is np else xp.eye(3, dtype=rays.dtype, device=rays.device)
    K = wAA.sum(1) + 1e-9 * eye
    return -xp.einsum("bik,bjkl->bjil", xp.linalg.inv(K), wAA)


def place_root(joints_rel_m, G, min_depth_m=MIN_DEPTH_M):
    """The root T (B, 3) of joints_rel_m (B, J, 3) under the map G of `root_map`, with
    the one depth guard, and its exact Jacobian dT/dX (B, J, 3, 3).

    Guard: T_z is raised to min_depth_m - min_j Z_j when that is larger, so every joint
    stays min_depth_m in front of the camera; there dT_z/dX is -1 on the nearest joint's
    Z and 0 elsewhere. numpy or torch (no host reads: safe inside a device loop).
    """
    xp = _xp(joints_rel_m)
    T = xp.einsum("bjil,bjl->bi", G, joints_rel_m)
    gap = min_depth_m - joints_rel_m[..., 2]                       # (B, J)
    nearest = gap.argmax(-1)[..., None]                            # (B, 1)
    z_min = xp.take_along_axis(gap, nearest, -1) if xp is np else gap.gather(-1, nearest)
    guarded = T[..., 2:] < z_min                                   # (B, 1)
    cat = np.concatenate if xp is np else xp.cat
    root = cat([T[..., :2], xp.where(guarded, z_min, T[..., 2:])], -1)
    J = joints_rel_m.shape[-2]
    arange = np.arange(J) if xp is np else xp.arange(J, device=G.device)
    is_nearest = (arange == nearest).astype(G.dtype) if xp is np else (arange == nearest).to(G.dtype)
    z_row = xp.where(guarded[..., None], 0.0 * G[..., 2, :], G[..., 2, :])      # (B, J, 3)
    z_row = cat([z_row[..., :2], z_row[..., 2:] - is_nearest[..., None] * guarded[..., None]], -1)
    jac = cat([G[..., :2, :], z_row[..., None, :]], -2)
    return root, jac


def solve_root(joints_rel_m, rays, weights, min_depth_m=MIN_DEPTH_M):
    """Closed-form least-squares root translation T (B, 3) so that joints + T project
    onto rays, every joint kept min_depth_m in front (`root_map` + `place_root`).

    joints_rel_m (B, J, 3) root-relative, rays (B, J, 2) undistorted rays, weights (B, J)
    (0 = ignore; NaN rays must carry weight 0). numpy or (differentiably) torch.
    """
    return place_root(joints_rel_m, root_map(rays, weights), min_depth_m)[0]
