"""Skeleton tables, camera model, input normalisation, metrics."""
import json

import numpy as np
import pytest
import torch

from lifter import camera, skeleton
from lifter.metrics import mpjpe, p_mpjpe, pearson, procrustes_align, spearman
from lifter.normalise import normalise_keypoints


def test_skeleton_tables_are_consistent():
    assert len(skeleton.JOINTS) == len(skeleton.PARENTS) == 17
    assert len(skeleton.BONES) == 16
    for a, b in zip(skeleton.LEFT, skeleton.RIGHT):
        assert skeleton.JOINTS[a].replace("left", "right") == skeleton.JOINTS[b]
    perm = np.array(skeleton.FLIP_PERM)
    assert (perm[perm] == np.arange(17)).all()
    for name, m in skeleton.INPUT_MATRICES.items():
        np.testing.assert_allclose(m.sum(1), 1.0, err_msg=name)  # weights are averages


def test_coco_conversion_and_missing_joint_scores():
    kp = np.zeros((17, 2), np.float32)
    c = {n: i for i, n in enumerate(skeleton.COCO_JOINTS)}
    kp[c["left_hip"]], kp[c["right_hip"]] = (10, 100), (30, 100)
    kp[c["left_shoulder"]], kp[c["right_shoulder"]] = (0, 0), (40, 0)
    scores = np.ones(17, np.float32)
    scores[c["left_hip"]] = 0.2
    out, sc = skeleton.coco_to_lifter(kp, scores)
    j = {n: i for i, n in enumerate(skeleton.JOINTS)}
    np.testing.assert_allclose(out[j["pelvis"]], (20, 100))
    np.testing.assert_allclose(out[j["thorax"]], (20, 0))
    np.testing.assert_allclose(out[j["spine"]], (20, 50))
    assert sc[j["pelvis"]] == pytest.approx(0.2) and sc[j["spine"]] == pytest.approx(0.2)
    assert sc[j["thorax"]] == 1.0
    # a missing (NaN) keypoint makes only the joints built from it missing
    kp[c["left_hip"]] = np.nan
    out, _ = skeleton.coco_to_lifter(kp, scores)
    missing = {n for n in skeleton.JOINTS if np.isnan(out[j[n]]).any()}
    assert missing == {"pelvis", "left_hip", "spine"}


def test_projection_round_trip_with_distortion():
    intr = camera.Intrinsics(1000, 990, 500, 480, 1000, 1000, (-0.2, 0.1, 1e-3, -5e-4, 0.01))
    pts = np.random.default_rng(0).uniform([-1, -1, 3], [1, 1, 6], (50, 3))
    px = camera.project(pts, intr)
    rays = camera.pixels_to_rays(px, intr)
    np.testing.assert_allclose(rays, pts[:, :2] / pts[:, 2:], atol=1e-6)
    # numpy and torch give the same projection
    np.testing.assert_allclose(camera.project(torch.tensor(pts), intr).numpy(), px, atol=1e-6)


def test_fov_intrinsics():
    intr = camera.intrinsics_from_fov(1280, 720, 90.0)
    assert intr.fx == pytest.approx(640.0) and (intr.cx, intr.cy) == (640.0, 360.0)
    with pytest.raises(ValueError, match="field of view"):
        camera.intrinsics_from_fov(640, 480, 0.0)


def test_world_camera_round_trip(shared):
    cams = json.loads((shared / "reference" / "h36m_cameras.json").read_text())
    c = cams["S9"]["54138969"]
    R, C = np.array(c["R_world_to_cam"]), np.array(c["T_cam_centre_world_mm"]) / 1000
    X = np.random.default_rng(1).normal(size=(20, 3))
    np.testing.assert_allclose(camera.camera_to_world(camera.world_to_camera(X, R, C), R, C), X, atol=1e-9)
    assert abs(np.linalg.det(R) - 1) < 1e-6


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_load_opencv_calibration(tmp_path, fmt):
    import cv2
    K = np.array([[800.0, 0, 321], [0, 805, 239], [0, 0, 1]])
    D = np.array([[-0.1, 0.01, 0.001, 0.002, 0.0]])
    path = tmp_path / f"calib.{fmt}"
    if fmt == "yaml":
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
        fs.write("image_width", 640)
        fs.write("image_height", 480)
        fs.write("camera_matrix", K)
        fs.write("distortion_coefficients", D)
        fs.release()
    else:
        path.write_text(json.dumps({"K": K.tolist(), "dist": D.ravel().tolist(), "width": 640, "height": 480}))
    intr = camera.load_calibration(str(path))
    assert (intr.fx, intr.fy, intr.cx, intr.cy, intr.width, intr.height) == (800, 805, 321, 239, 640, 480)
    np.testing.assert_allclose(intr.dist, D.ravel())


def test_bad_calibration_file(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"K": [[1, 0], [0, 1]]}))
    with pytest.raises(ValueError, match="camera matrix has shape"):
        camera.load_calibration(str(p))
    with pytest.raises(ValueError, match="not found"):
        camera.load_calibration(str(tmp_path / "none.yaml"))


def test_solve_root_exact_and_guarded():
    rng = np.random.default_rng(0)
    P = rng.normal(0, 0.3, (8, 17, 3))
    T = np.column_stack([rng.uniform(-1, 1, 8), rng.uniform(-1, 1, 8), rng.uniform(2, 8, 8)])
    cam = P + T[:, None]
    rays = cam[..., :2] / cam[..., 2:]
    np.testing.assert_allclose(camera.solve_root(P, rays, np.ones((8, 17))), T, atol=1e-6)
    # all weights zero but one joint: the depth is undetermined; the guard keeps it in front
    w = np.zeros((8, 17))
    T_bad = camera.solve_root(P, rays, w)
    assert np.isfinite(T_bad).all() and ((P[..., 2] + T_bad[:, None, 2]) >= 0.3 - 1e-9).all()


def test_normalisation_is_camera_invariant():
    """The same pose seen along the same ray gives the same input for any focal length."""
    rng = np.random.default_rng(2)
    P = rng.normal(0, 0.3, (1, 17, 3)) + [0.2, 0.1, 4.0]
    xs = []
    for f, (w, h) in ((500, (640, 480)), (1500, (1920, 1080))):
        intr = camera.Intrinsics(f, f, w / 2, h / 2, w, h)
        xs.append(normalise_keypoints(camera.project(P, intr), intr))
    np.testing.assert_allclose(xs[0], xs[1], atol=1e-5)
    assert np.isfinite(xs[0]).all()


def test_normalisation_fills_nan_joints():
    intr = camera.intrinsics_from_fov(640, 480)
    kp = np.random.default_rng(3).uniform(100, 400, (2, 17, 2))
    kp[0, 3] = np.nan
    x = normalise_keypoints(kp, intr)
    assert np.isfinite(x).all()


def test_procrustes_recovers_similarity():
    rng = np.random.default_rng(4)
    gt = rng.normal(size=(5, 17, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    pred = 1.7 * gt @ q.T + 0.3
    assert mpjpe(pred, gt).mean() > 0.5
    np.testing.assert_allclose(procrustes_align(pred, gt), gt, atol=1e-9)
    assert p_mpjpe(pred, gt).max() < 1e-9


def test_correlations():
    a = np.arange(10.0)
    assert pearson(a, 2 * a + 1) == pytest.approx(1.0)
    assert spearman(a, a ** 3) == pytest.approx(1.0)
    assert pearson(a, -a) == pytest.approx(-1.0)
