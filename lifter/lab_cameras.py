"""Virtual cameras placed as studio and surveillance cameras are (the Human3.6M lab's
are): 1-2.5 m above the floor, 3-7 m from the person, looking down 0-25 degrees, focal
~1150 px on 1000 px wide images. The generator uses them for a share of its samples, in
addition to its wide distribution of hand-held and webcam cameras."""
import numpy as np

HEIGHT_M = (1.0, 2.5)
DISTANCE_M = (3.0, 7.0)
PITCH_DOWN_DEG = (0.0, 25.0)
FOCAL_PX = (1100.0, 1200.0)
SIZE_PX = (1000, 1000)
ANKLE_ABOVE_FLOOR_M = 0.08  # the floor is this far below the lower ankle


def lab_cameras(n, rng):
    """Focal (N,), principal point (N, 2), image size (N, 2) of lab cameras."""
    size = np.tile(np.array(SIZE_PX, float), (n, 1))
    f = rng.uniform(*FOCAL_PX, n)
    c = size / 2 + rng.normal(0, 0.005, (n, 2)) * size
    return f, c, size


def lab_view(points, rng, f, c, size):
    """Pelvis-relative world points (N, P, 3), Y up -> camera-frame points (N, P, 3),
    pixels (N, P, 2) and ok (N,): the whole person inside the image. The camera stands at a
    random height, distance and direction, aims at the body (pitch clipped to 0-25 deg
    down) with the person anywhere across the frame."""
    n = len(points)
    floor = points[:, [3, 6], 1].min(1) - ANKLE_ABOVE_FLOOR_M
    yaw = rng.uniform(0, 2 * np.pi, n)
    dist = rng.uniform(*DISTANCE_M, n)
    centre = np.stack([dist * np.sin(yaw), floor + rng.uniform(*HEIGHT_M, n), dist * np.cos(yaw)], -1)
    aim_y = floor + rng.uniform(0.6, 1.2, n)  # looking at the body, not over it
    pitch = np.clip(np.arctan2(centre[:, 1] - aim_y, dist), *np.radians(PITCH_DOWN_DEG))
    # the person off the optical axis by up to 0.6 of the half-width
    pan = yaw + np.pi + np.arctan(rng.uniform(-0.6, 0.6, n) * size[:, 0] / 2 / f)
    fwd = np.stack([np.sin(pan) * np.cos(pitch), -np.sin(pitch), np.cos(pan) * np.cos(pitch)], -1)
    right = np.stack([-np.cos(pan), np.zeros(n), np.sin(pan)], -1)  # right x down = forward
    roll = np.radians(rng.normal(0, 1.0, n))
    down = np.cross(fwd, right)
    right, down = (np.cos(roll)[:, None] * right + np.sin(roll)[:, None] * down,
                   -np.sin(roll)[:, None] * right + np.cos(roll)[:, None] * down)
    R = np.stack([right, down, fwd], axis=1)  # world -> camera (x right, y down, z forward)
    cam = np.einsum("nij,npj->npi", R, points - centre[:, None])
    px = cam[..., :2] / np.maximum(cam[..., 2:], 1e-3) * f[:, None, None] + c[:, None]
    ok = (cam[..., 2] > 0.5).all(-1) & (px >= 0).all((-1, -2)) & (px <= size[:, None]).all((-1, -2))
    return cam, px, ok
