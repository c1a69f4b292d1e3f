"""The 3D view: Open3D legacy Visualizer with bones as lines, joints as spheres coloured
by their predicted sigma (app.colors: green <= 5 cm, red >= 20 cm), a colour bar beside
the people (bottom = confident, top = uncertain), a ground grid under the lowest feet, and
a camera that follows them. Every person stands at their estimated root in the one
camera-frame scene, with their track id drawn above the head in the track's colour
(app.track_labels, seven-segment strokes: the legacy window has no text).

Geometry is allocated once for `max_people` skeletons and labels and updated in place every
frame (vertices and colours of the same objects, then poll_events / update_renderer), so
the window is never rebuilt and never blocks as people appear and disappear. visible=False renders offscreen (EGL without a
display), and capture() returns the picture for the output video.

Display coordinates are Y-up metres: camera frame (x right, y down, z forward) turned
180 degrees about x, the same convention as the BVH export.
"""
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from lifter.skeleton import BONES, NUM_JOINTS

from .colors import SIGMA_GREEN_M, SIGMA_RED_M, sigma_to_rgb
from .track_labels import MAX_SEGMENTS, digit_strokes, track_rgb

CAMERA_TO_YUP = np.diag([1.0, -1.0, -1.0])
JOINT_RADIUS_M = 0.035
GRID_HALF_M, GRID_STEP_M = 3.0, 0.5
VIEW_DISTANCE_M = 3.6
VIEW_DISTANCE_PER_SPREAD = 1.6  # extra eye distance per metre the people spread from their centre
LABEL_HEIGHT_M = 0.16           # digit height of the track-id labels
LABEL_ABOVE_HEAD_M = 0.12
VIEW_FRONT = np.array([0.45, 0.35, 1.0])  # from the person towards the eye: front-right, above
VIEW_FOV_DEG = 55.0
FOLLOW = 0.25  # per-frame smoothing of the followed point, so the camera does not jitter
BAR_STEPS = 12
BACKGROUND = (0.12, 0.12, 0.14)
WINDOW_LEFT_PX, WINDOW_TOP_PX = 40, 40  # the OpenCV overlay window goes to its right


def _grid_lines(half, step):
    ticks = np.arange(-half, half + 1e-9, step)
    pts, lines = [], []
    for t in ticks:
        for a, b in (((t, -half), (t, half)), ((-half, t), (half, t))):
            lines.append((len(pts), len(pts) + 1))
            pts += [(a[0], 0.0, a[1]), (b[0], 0.0, b[1])]
    return np.array(pts), np.array(lines)


class SkeletonViewer:
    """Open3D window (or offscreen buffer) showing up to max_people skeletons."""

    def __init__(self, width=640, height=480, visible=True, max_people=8, title="3D pose"):
        if sys.platform.startswith("linux") and not os.environ.get("XDG_RUNTIME_DIR"):
            # GLFW probes Wayland through it and prints "error: XDG_RUNTIME_DIR is invalid"
            # when it is unset (servers, containers): a private empty one ends that false alarm
            runtime = Path(tempfile.gettempdir()) / f"xdg-runtime-{os.getuid()}"
            runtime.mkdir(mode=0o700, exist_ok=True)
            os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        import open3d as o3d
        o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)  # no EGL chatter per run
        self.o3d, self.width, self.height, self.max_people = o3d, width, height, max_people
        self.closed = False
        self.vis = o3d.visualization.VisualizerWithKeyCallback()
        for key in (ord("Q"), 256):  # q and Esc close the window like the OpenCV one
            self.vis.register_key_callback(key, self._on_close_key)
        if not self.vis.create_window(window_name=title, width=width, height=height, left=WINDOW_LEFT_PX,
                                      top=WINDOW_TOP_PX, visible=visible):
            raise ValueError("3D viewer: Open3D could not create a window (no display or OpenGL); "
                             "use --viewer none")
        opt = self.vis.get_render_option()
        opt.background_color = np.array(BACKGROUND)
        opt.line_width = 3.0
        opt.mesh_show_back_face = True

        sphere = o3d.geometry.TriangleMesh.create_sphere(JOINT_RADIUS_M, resolution=8)
        sphere.compute_vertex_normals()
        self._sphere_v = np.asarray(sphere.vertices)
        nv, slots = len(self._sphere_v), max_people * NUM_JOINTS
        tris = np.asarray(sphere.triangles)[None] + (np.arange(slots) * nv)[:, None, None]
        self.joints = o3d.geometry.TriangleMesh()
        self.joints.vertices = o3d.utility.Vector3dVector(np.zeros((slots * nv, 3)))
        self.joints.triangles = o3d.utility.Vector3iVector(tris.reshape(-1, 3))
        self.joints.vertex_normals = o3d.utility.Vector3dVector(np.tile(np.asarray(sphere.vertex_normals), (slots, 1)))
        self.joints.vertex_colors = o3d.utility.Vector3dVector(np.zeros((slots * nv, 3)))

        bones = np.array(BONES)
        self.bones = o3d.geometry.LineSet()
        self.bones.points = o3d.utility.Vector3dVector(np.zeros((slots, 3)))
        self.bones.lines = o3d.utility.Vector2iVector(
            (bones[None] + (np.arange(max_people) * NUM_JOINTS)[:, None, None]).reshape(-1, 2))
        self.bones.colors = o3d.utility.Vector3dVector(np.zeros((max_people * len(BONES), 3)))

        self._grid_pts, grid_lines = _grid_lines(GRID_HALF_M, GRID_STEP_M)
        self.grid = o3d.geometry.LineSet()
        self.grid.points = o3d.utility.Vector3dVector(self._grid_pts)
        self.grid.lines = o3d.utility.Vector2iVector(grid_lines)
        self.grid.colors = o3d.utility.Vector3dVector(np.full((len(grid_lines), 3), 0.45))

        # colour bar: BAR_STEPS quads, bottom = SIGMA_GREEN_M, top = SIGMA_RED_M
        self.bar = o3d.geometry.TriangleMesh()
        k = np.arange(BAR_STEPS)
        quads = np.stack([4 * k, 4 * k + 1, 4 * k + 2, 4 * k, 4 * k + 2, 4 * k + 3], -1).reshape(-1, 3)
        self.bar.triangles = o3d.utility.Vector3iVector(quads)
        sig = np.linspace(SIGMA_GREEN_M, SIGMA_RED_M, BAR_STEPS)
        self.bar.vertex_colors = o3d.utility.Vector3dVector(np.repeat(sigma_to_rgb(sig), 4, axis=0))
        self.bar.vertices = o3d.utility.Vector3dVector(np.zeros((4 * BAR_STEPS, 3)))

        self.labels = o3d.geometry.LineSet()
        label_lines = max_people * MAX_SEGMENTS
        self.labels.points = o3d.utility.Vector3dVector(np.zeros((2 * label_lines, 3)))
        self.labels.lines = o3d.utility.Vector2iVector(np.arange(2 * label_lines).reshape(-1, 2))
        self.labels.colors = o3d.utility.Vector3dVector(np.zeros((label_lines, 3)))

        self._target = None   # followed point (Y-up)
        self._floor_y = None
        self._distance = VIEW_DISTANCE_M
        # The view's depth range comes from the bounding box: take the grid's (the skeleton
        # slots start collapsed to a point, whose empty box would make the view degenerate).
        for g in (self.bar, self.joints, self.bones, self.labels):
            self.vis.add_geometry(g, reset_bounding_box=False)
        self.vis.add_geometry(self.grid, reset_bounding_box=True)

    def _on_close_key(self, vis):
        self.closed = True
        return False

    def update(self, people):
        """Show `people` (app.frame.PersonPose with joints_m, root_m, sigma_m); returns False
        once the user closed the window."""
        people = [p for p in people if p.joints_m is not None][: self.max_people]
        nv = len(self._sphere_v)
        pts = np.zeros((self.max_people, NUM_JOINTS, 3))
        sig = np.full((self.max_people, NUM_JOINTS), SIGMA_RED_M)
        for i, p in enumerate(people):
            pts[i] = (np.asarray(p.joints_m, np.float64) + np.asarray(p.root_m, np.float64)) @ CAMERA_TO_YUP.T
            sig[i] = p.sigma_m
        if people:
            target = pts[: len(people), 0].mean(0)
            floor = pts[: len(people), [3, 6], 1].min() - JOINT_RADIUS_M  # below the lowest ankles
            spread = np.linalg.norm(pts[: len(people), 0] - target, axis=-1).max()
            distance = VIEW_DISTANCE_M + VIEW_DISTANCE_PER_SPREAD * spread  # everyone in view
            if self._target is None:
                self._target, self._floor_y, self._distance = target, floor, distance
            self._target = self._target + FOLLOW * (target - self._target)
            self._floor_y = self._floor_y + FOLLOW * (floor - self._floor_y)
            self._distance = self._distance + FOLLOW * (distance - self._distance)
        if self._target is None:  # nobody seen yet: look at a spot 3 m ahead
            self._target, self._floor_y = np.array([0.0, 0.0, -3.0]), -0.9
        pts[len(people):] = self._target  # unused slots collapse to one invisible point
        scale = np.zeros((self.max_people, 1, 1, 1))
        scale[: len(people)] = 1.0
        verts = pts[:, :, None, :] + scale * self._sphere_v[None, None]
        rgb = sigma_to_rgb(sig)
        self.joints.vertices = self.o3d.utility.Vector3dVector(verts.reshape(-1, 3))
        self.joints.vertex_colors = self.o3d.utility.Vector3dVector(np.repeat(rgb.reshape(-1, 3), nv, axis=0))
        self.bones.points = self.o3d.utility.Vector3dVector(pts.reshape(-1, 3))
        child = np.array([c for _, c in BONES])
        self.bones.colors = self.o3d.utility.Vector3dVector(rgb[:, child].reshape(-1, 3))
        # the grid is snapped to its own spacing so it reads as a fixed floor while we follow
        snap = np.round(self._target / GRID_STEP_M) * GRID_STEP_M
        self.grid.points = self.o3d.utility.Vector3dVector(self._grid_pts + [snap[0], self._floor_y, snap[2]])
        self._place_bar()
        self._place_labels(people, pts)
        for g in (self.joints, self.bones, self.grid, self.bar, self.labels):
            self.vis.update_geometry(g)
        self._place_camera()
        alive = self.vis.poll_events()
        self.vis.update_renderer()
        return bool(alive) and not self.closed

    def _place_labels(self, people, pts):
        """Each tracked person's id above the head, facing the camera; unused strokes
        collapse onto the followed point."""
        _, right, up = self._view_axes()
        ends = np.repeat(self._target[None, None], self.max_people * MAX_SEGMENTS, 0).repeat(2, 1)
        colours = np.zeros((self.max_people * MAX_SEGMENTS, 3))
        for i, p in enumerate(people):
            if p.track_id is None:
                continue
            strokes = digit_strokes(p.track_id) * LABEL_HEIGHT_M
            width = strokes[..., 0].max()
            anchor = pts[i, 10] + (0.0, LABEL_ABOVE_HEAD_M, 0.0) - 0.5 * width * right
            k = slice(i * MAX_SEGMENTS, i * MAX_SEGMENTS + len(strokes))
            ends[k] = anchor + strokes[..., :1] * right + strokes[..., 1:] * up
            colours[k] = track_rgb(p.track_id)
        self.labels.points = self.o3d.utility.Vector3dVector(ends.reshape(-1, 3))
        self.labels.colors = self.o3d.utility.Vector3dVector(colours)

    def _view_axes(self):
        front = VIEW_FRONT / np.linalg.norm(VIEW_FRONT)
        right = np.cross([0.0, 1.0, 0.0], front)
        right /= np.linalg.norm(right)
        return front, right, np.cross(front, right)

    def _place_bar(self):
        front, right, _ = self._view_axes()
        base = np.array([self._target[0], self._floor_y, self._target[2]]) - 1.1 * right
        h = np.linspace(0.0, 1.2, BAR_STEPS + 1)
        w = 0.08 * right
        v = []
        for a, b in zip(h[:-1], h[1:]):
            v += [base + [0, a, 0], base + w + [0, a, 0], base + w + [0, b, 0], base + [0, b, 0]]
        self.bar.vertices = self.o3d.utility.Vector3dVector(np.array(v))

    def _place_camera(self):
        front, right, up = self._view_axes()
        eye = self._target + self._distance * front
        # world -> camera for Open3D's pinhole convention (x right, y down, z forward)
        R = np.stack([right, -up, -front])
        extrinsic = np.eye(4)
        extrinsic[:3, :3], extrinsic[:3, 3] = R, -R @ eye
        f = 0.5 * self.width / np.tan(np.radians(VIEW_FOV_DEG) / 2)
        params = self.o3d.camera.PinholeCameraParameters()
        params.intrinsic = self.o3d.camera.PinholeCameraIntrinsic(
            self.width, self.height, f, f, self.width / 2 - 0.5, self.height / 2 - 0.5)
        params.extrinsic = extrinsic
        self.vis.get_view_control().convert_from_pinhole_camera_parameters(params, allow_arbitrary=True)

    def capture(self):
        """The current view as an (H, W, 3) BGR uint8 image."""
        buf = np.asarray(self.vis.capture_screen_float_buffer(do_render=True))
        return np.ascontiguousarray((np.clip(buf, 0, 1) * 255).round().astype(np.uint8)[..., ::-1])

    def close(self):
        self.vis.destroy_window()
