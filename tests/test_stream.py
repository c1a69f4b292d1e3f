"""--stream vmc://: bundles checked from a real UDP receiver, parsed with python-osc.

Poses are built in a body frame (x = subject's left, y up, z towards the camera) and
placed 3 m in front of the camera, so the expected Unity rotations are known exactly:
Unity is left-handed, Y up, and an avatar in T-pose faces +Z with its left hand at -X.
"""
import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle
from scipy.spatial.transform import Rotation

from app.frame import Frame, PersonPose
from app.stream import open_stream, parse_stream_url, pick_person
from app.vmc import BONE_NAMES
from lifter.skeleton import JOINTS

REPO = Path(__file__).resolve().parents[1]
T_POSE = {"pelvis": (0, 0, 0), "right_hip": (-.1, 0, 0), "right_knee": (-.1, -.45, 0), "right_ankle": (-.1, -.9, 0),
          "left_hip": (.1, 0, 0), "left_knee": (.1, -.45, 0), "left_ankle": (.1, -.9, 0),
          "spine": (0, .25, 0), "thorax": (0, .5, 0), "neck_nose": (0, .62, 0), "head": (0, .78, 0),
          "left_shoulder": (.18, .5, 0), "left_elbow": (.45, .5, 0), "left_wrist": (.7, .5, 0),
          "right_shoulder": (-.18, .5, 0), "right_elbow": (-.45, .5, 0), "right_wrist": (-.7, .5, 0)}
UNITY_LEFT, UNITY_UP, UNITY_FORWARD = np.array([-1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([0, 0, 1.0])


def body(**moved):
    return np.array([moved.get(j, T_POSE[j]) for j in JOINTS], float)


def person(body_m, box=(0, 0, 100, 200), track_id=None):
    """Body-frame joints -> a lifted PersonPose 3 m in front of the camera (camera frame:
    x right, y down, z forward; the subject faces the camera, their left at image right)."""
    cam = body_m * [1, -1, -1] + [0.0, 0.0, 3.0]
    p = PersonPose(np.zeros((17, 2), np.float32), np.ones(17, np.float32), np.array(box, np.float32),
                   joints_m=cam - cam[0], root_m=cam[0])
    if track_id is not None:
        p.track_id = track_id
    return p


@pytest.fixture
def receiver():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def stream_frames(receiver, frames, track_id=None):
    """Send frames through a VMC stream; -> one list of (address, params) per datagram."""
    stream = open_stream(f"vmc://127.0.0.1:{receiver.getsockname()[1]}", track_id)
    for i, people in enumerate(frames):
        stream.send(Frame(i, i / 30, None, people=people))
    stream.close()
    packets = []
    for _ in frames:
        data = receiver.recv(65536)
        assert OscBundle.dgram_is_bundle(data)  # one bundle per frame
        packets.append([(m.address, m.params) for m in OscBundle(data)])
    return packets


def bones(packet):
    return {p[0]: (np.array(p[1:4]), np.array(p[4:8])) for a, p in packet if a == "/VMC/Ext/Bone/Pos"}


def test_t_pose_is_the_identity_with_unity_axes(receiver):
    [packet] = stream_frames(receiver, [[person(body())]])
    addresses = [a for a, _ in packet]
    assert addresses[:3] == ["/VMC/Ext/T", "/VMC/Ext/OK", "/VMC/Ext/Root/Pos"]
    assert packet[1][1][0] == 1 and packet[2][1][0] == "root" and len(packet[2][1]) == 8
    b = bones(packet)
    assert set(b) == set(BONE_NAMES) and len(b) == 19
    for name, (_, q) in b.items():
        assert abs(abs(q[3]) - 1) < 1e-5, name
    # the left upper arm sits at -X of the left shoulder in Unity, the legs hang down
    assert np.allclose(b["LeftUpperArm"][0], [-0.18, 0, 0], atol=1e-4)
    assert np.allclose(b["RightUpperArm"][0], [0.18, 0, 0], atol=1e-4)
    assert np.allclose(b["LeftLowerLeg"][0], [0, -0.45, 0], atol=1e-4)
    assert np.allclose(b["Hips"][0], [0, 0.9, 0], atol=1e-4)  # standing height, at the origin


def test_raised_left_arm_turns_the_left_upper_arm_up(receiver):
    raised = body(left_elbow=(.18, .77, 0), left_wrist=(.18, 1.02, 0))
    [packet] = stream_frames(receiver, [[person(raised)]])
    b = bones(packet)
    arm = Rotation.from_quat(b["LeftUpperArm"][1])
    assert np.allclose(arm.apply(UNITY_LEFT), UNITY_UP, atol=1e-4)
    for name in ("Hips", "Chest", "RightUpperArm", "LeftLowerArm", "LeftUpperLeg"):
        assert abs(abs(b[name][1][3]) - 1) < 1e-5, name


def test_turn_to_the_left_turns_the_hips_towards_unity_minus_x(receiver):
    # the subject turns 90 degrees to their left (about +y of the body frame)
    turned = body() @ Rotation.from_euler("y", 90, degrees=True).as_matrix().T
    [packet] = stream_frames(receiver, [[person(turned)]])
    b = bones(packet)
    hips = Rotation.from_quat(b["Hips"][1])
    assert np.allclose(hips.apply(UNITY_FORWARD), UNITY_LEFT, atol=1e-4)
    assert np.allclose(hips.apply(UNITY_UP), UNITY_UP, atol=1e-4)
    for name in ("Spine", "Chest", "LeftUpperArm", "RightUpperLeg"):  # locally still a T-pose
        assert abs(abs(b[name][1][3]) - 1) < 1e-5, name


def test_chosen_track_and_frames_without_anyone(receiver):
    small, large = person(body(), box=(0, 0, 50, 50), track_id=7), person(body(left_elbow=(.18, .77, 0),
                                                                              left_wrist=(.18, 1.02, 0)),
                                                                         box=(0, 0, 300, 300), track_id=3)
    assert pick_person([small, large]) is large
    assert pick_person([small, large], 7) is small and pick_person([small, large], 9) is None
    packets = stream_frames(receiver, [[small, large], [], [small, large]], track_id=7)
    assert [len(bones(p)) for p in packets] == [19, 0, 19]
    assert [p[1][1][3] for p in packets] == [1, 0, 1]  # /VMC/Ext/OK tracking status
    arm = Rotation.from_quat(bones(packets[0])["LeftUpperArm"][1])
    assert np.allclose(arm.apply(UNITY_LEFT), UNITY_LEFT, atol=1e-4)  # track 7's arm, not the largest's


def test_nobody_listening_never_blocks_or_raises():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stream = open_stream(f"vmc://127.0.0.1:{port}")  # closed port: the kernel refuses
    for i in range(20):
        stream.send(Frame(i, i / 30, None, people=[person(body())]))
    stats = stream.stats()
    stream.close()
    assert stats["bundles_sent"] + stats["bundles_dropped"] == 20


@pytest.mark.parametrize("url", ["vmc://127.0.0.1", "osc://127.0.0.1:39539", "vmc://:39539", "vmc://h:port",
                                 "ws://127.0.0.1"])
def test_bad_stream_url_is_a_one_line_error(url):
    with pytest.raises(ValueError, match="expected vmc://HOST:PORT"):
        parse_stream_url(url)


def test_demo_clip_streams_vmc_bones_to_a_udp_listener(shared, receiver, tmp_path):
    """The issue's check: >= 50 packets with /VMC/Ext/Bone/Pos for >= 10 bone names in 60 frames."""
    port = receiver.getsockname()[1]
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    cmd = [sys.executable, "run_demo.py", "--source", str(shared / "media" / "sports2d_demo.mp4"),
           "--viewer", "none", "--no-progress", "--refine", "none", "--max-frames", "60",
           "--stream", f"vmc://127.0.0.1:{port}", "--export", str(tmp_path)]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    with_bones, names = 0, set()
    receiver.settimeout(0.5)
    try:
        while True:
            packet = [(m.address, m.params) for m in OscBundle(receiver.recv(65536))]
            b = bones(packet)
            with_bones += bool(b)
            names |= set(b)
    except TimeoutError:
        pass
    assert with_bones >= 50 and len(names) >= 10
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stream"]["bundles_sent"] == 60 and summary["stream"]["url"] == f"vmc://127.0.0.1:{port}"


def test_outputs_hook_sends_each_finished_frame_and_names_the_stream(receiver):
    from app.outputs import Outputs
    port = receiver.getsockname()[1]
    stream = open_stream(f"vmc://127.0.0.1:{port}")
    outputs = Outputs("none", stream=stream)
    for i in range(3):
        assert outputs.handle(Frame(i, i / 30, None, people=[person(body())]), ["hud"])
    assert stream.hud_line() == f"stream vmc://127.0.0.1:{port}  sent 3  dropped 0"
    outputs.close()
    assert all(len(bones([(m.address, m.params) for m in OscBundle(receiver.recv(65536))])) == 19
               for _ in range(3))


def test_websocket_clients_get_each_frame_record():
    import time

    from websockets.sync.client import connect
    stream = open_stream("ws://127.0.0.1:0")
    try:
        with connect(f"ws://127.0.0.1:{stream.port}") as client:
            deadline = time.monotonic() + 5
            while stream.clients() < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            for i in range(3):
                stream.send(Frame(i, i / 30, None, people=[person(body())] if i != 1 else []))
            records = [json.loads(client.recv(timeout=5)) for _ in range(3)]
    finally:
        stream.close()
    assert [r["frame"] for r in records] == [0, 1, 2] and [len(r["people"]) for r in records] == [1, 0, 1]
    joints = np.array(records[0]["people"][0]["joints_3d_m"])
    assert joints.shape == (17, 3) and np.allclose(joints[0], 0)  # root-relative, as in poses.jsonl
    assert stream.stats()["messages_sent"] == 3 and stream.stats()["messages_dropped"] == 0
