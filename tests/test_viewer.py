"""The Open3D viewer renders offscreen (EGL, no display) and colours joints by sigma."""
import numpy as np
import pytest

from app.frame import PersonPose
from app.track_labels import digit_strokes, track_rgb
from app.viewer import CAMERA_TO_YUP, LABEL_ABOVE_HEAD_M, SkeletonViewer

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


def project(viewer, point_cam_m):
    params = viewer.vis.get_view_control().convert_to_pinhole_camera_parameters()
    p = params.extrinsic @ np.append(point_cam_m @ CAMERA_TO_YUP.T, 1.0)
    u, v, _ = params.intrinsic.intrinsic_matrix @ (p[:3] / p[2])
    return int(round(u)), int(round(v))


def label_pixels(viewer, image_bgr, person):
    """Pixels of the person's track colour around where the label above the head goes."""
    head = person.joints_m[10] + person.root_m + (0.0, -LABEL_ABOVE_HEAD_M - 0.08, 0.0)  # y down
    u, v = project(viewer, head)
    patch = image_bgr[max(v - 25, 0):v + 25, max(u - 35, 0):u + 35, ::-1].astype(float)
    want = track_rgb(person.track_id) * 255
    return int((np.abs(patch - want).max(-1) < 40).sum())


def test_every_tracked_person_stands_at_their_root_with_an_id_label(viewer):
    sigma = np.full(17, 0.01)
    a = PersonPose(np.zeros((17, 2)), np.ones(17), None, t_pose(), np.array([-0.9, 0.0, 4.0]), sigma, 3)
    b = PersonPose(np.zeros((17, 2)), np.ones(17), None, t_pose(), np.array([0.9, 0.1, 5.5]), sigma, 12)
    window = viewer.vis
    for _ in range(30):  # let the followed camera settle
        assert viewer.update([a, b])
    image = viewer.capture()
    for p in (a, b):
        u, v = project(viewer, p.joints_m[7] + p.root_m)
        assert 0 <= u < W and 0 <= v < H  # both in view, each at its own root
        near = image[v - 8:v + 9, u - 8:u + 9]
        assert ((near[..., 1] > 150) & (near[..., 2] < 100)).sum() > 10  # its confident skeleton
        assert label_pixels(viewer, image, p) > 8, p.track_id
    # b leaves and comes back: the same window, b's label gone and back again
    for _ in range(30):
        viewer.update([a])
    alone = viewer.capture()
    assert label_pixels(viewer, alone, a) > 8 and label_pixels(viewer, alone, b) == 0
    for _ in range(30):
        viewer.update([b, a])
    assert label_pixels(viewer, viewer.capture(), b) > 8
    assert viewer.vis is window


def test_digit_strokes_spell_the_id():
    assert len(digit_strokes(8)) == 7 and len(digit_strokes(1)) == 2
    strokes = digit_strokes(17)
    assert len(strokes) == 2 + 3  # "1" is two strokes on its cell's right, "7" three in the next cell
    assert strokes[:2, :, 0].max() == 0.6 and strokes[2:, :, 0].min() >= 0.9
    with pytest.raises(ValueError, match="digits"):
        digit_strokes("x1")
