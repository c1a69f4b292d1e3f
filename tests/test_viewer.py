"""The Open3D viewer renders offscreen (EGL, no display) and colours joints by sigma."""
import numpy as np
import pytest

from app.frame import PersonPose
from app.viewer import CAMERA_TO_YUP, SkeletonViewer

W, H = 480, 360


def t_pose():
    """(17, 3) camera frame (y down), metres, root-relative; arms straight out."""
    J = np.zeros((17, 3))
    J[1:4] = [[-0.12, 0, 0], [-0.12, 0.45, 0], [-0.12, 0.85, 0]]
    J[4:7] = [[0.12, 0, 0], [0.12, 0.45, 0], [0.12, 0.85, 0]]
    J[7:11] = [[0, -0.25, 0], [0, -0.5, 0], [0, -0.6, -0.05], [0, -0.75, 0]]
    J[11:14] = [[0.18, -0.5, 0], [0.45, -0.5, 0], [0.75, -0.5, 0]]
    J[14:17] = [[-0.18, -0.5, 0], [-0.45, -0.5, 0], [-0.75, -0.5, 0]]
    return J


@pytest.fixture(scope="module")
def viewer():
    v = SkeletonViewer(W, H, visible=False)
    yield v
    v.close()


def pixel_rgb(viewer, image_bgr, point_cam_m):
    """Mean colour of the non-background pixels around where Open3D's own camera (read back
    from the view control) projects point_cam_m."""
    params = viewer.vis.get_view_control().convert_to_pinhole_camera_parameters()
    p = params.extrinsic @ np.append(point_cam_m @ CAMERA_TO_YUP.T, 1.0)
    u, v, _ = params.intrinsic.intrinsic_matrix @ (p[:3] / p[2])
    patch = image_bgr[int(round(v)) - 3:int(round(v)) + 4, int(round(u)) - 3:int(round(u)) + 4, ::-1]
    patch = patch.reshape(-1, 3).astype(float)
    lit = patch[patch.sum(-1) > 150]  # drop the dark background around the sphere
    assert len(lit) > 5, "no joint drawn where it should be"
    return lit.mean(0)


def show(viewer, sigma):
    root = np.array([0.2, -0.1, 3.0])
    person = PersonPose(np.zeros((17, 2)), np.ones(17), None, t_pose(), root, sigma)
    assert viewer.update([person])
    return viewer.capture(), root


def test_joint_colours_follow_sigma(viewer):
    sigma = np.full(17, 0.06)
    sigma[13], sigma[16] = 0.01, 0.25  # left wrist confident, right wrist uncertain
    image, root = show(viewer, sigma)
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    green = pixel_rgb(viewer, image, t_pose()[13] + root)
    red = pixel_rgb(viewer, image, t_pose()[16] + root)
    assert green[1] > 2 * green[0] and green[1] > 2 * green[2], green
    assert red[0] > 2 * red[1] and red[0] > 2 * red[2], red

    # the same window, geometry updated in place: colours swap with the sigmas
    sigma[13], sigma[16] = 0.25, 0.01
    for _ in range(8):  # the followed camera has settled: the view is stable
        image, _ = show(viewer, sigma)
    now_red = pixel_rgb(viewer, image, t_pose()[13] + root)
    now_green = pixel_rgb(viewer, image, t_pose()[16] + root)
    assert now_red[0] > 2 * now_red[1] and now_green[1] > 2 * now_green[0]


def test_nobody_renders_just_the_scene(viewer):
    assert viewer.update([])
    image = viewer.capture()
    assert image.std() > 1.0  # the grid and colour bar are still drawn


def test_camera_follows_the_person(viewer):
    sigma = np.full(17, 0.01)
    for root in (np.array([0.0, 0.0, 3.0]), np.array([2.5, 0.3, 7.0])):
        person = PersonPose(np.zeros((17, 2)), np.ones(17), None, t_pose(), root, sigma)
        for _ in range(30):  # the followed point is smoothed: let it settle
            viewer.update([person])
        image = viewer.capture()
        params = viewer.vis.get_view_control().convert_to_pinhole_camera_parameters()
        p = params.extrinsic @ np.append((t_pose()[7] + root) @ CAMERA_TO_YUP.T, 1.0)
        u, v, _ = params.intrinsic.intrinsic_matrix @ (p[:3] / p[2])
        assert abs(u - W / 2) < W / 8 and abs(v - H / 2) < H / 4  # the spine stays mid-picture
        near = image[int(v) - 60:int(v) + 60, int(u) - 60:int(u) + 60]
        green = (near[..., 1] > 150) & (near[..., 2] < 100)
        assert green.sum() > 100  # and the confident skeleton is drawn there
