"""Live skeleton streaming to animation tools: `--stream vmc://HOST:PORT` (and
`ws://HOST:PORT` for web viewers: app.wsstream).

VMC protocol (OSC 1.0 over UDP, what VSeeFace, Warudo, VNyan, XR Animator and the
Blender/Unity VMC add-ons receive): one OSC bundle per frame holding /VMC/Ext/T,
/VMC/Ext/OK, /VMC/Ext/Root/Pos and one /VMC/Ext/Bone/Pos per Unity humanoid bone
(app.vmc: local rotations relative to a T-pose, Unity axes: left-handed, Y up, metres).

One person is streamed: the track given by --stream-track (a person's `track_id`),
else the largest person of each frame. Sending never blocks the pipeline: the UDP
socket is non-blocking and a bundle that cannot be sent is dropped and counted.
"""
import time
from urllib.parse import urlsplit

import numpy as np
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import UDPClient

from .vmc import humanoid_pose

SCHEMES = ("vmc", "ws")
CALIBRATED = 3  # /VMC/Ext/OK calibration state: calibrated (protocol 2.5)


def parse_stream_url(url):
    """'vmc://HOST:PORT' or 'ws://HOST:PORT' -> (scheme, host, port); a one-line ValueError otherwise."""
    parts = urlsplit(str(url))
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in SCHEMES or not parts.hostname or port is None:
        raise ValueError(f"--stream {url}: expected vmc://HOST:PORT (e.g. vmc://127.0.0.1:39539) "
                         f"or ws://HOST:PORT")
    return parts.scheme, parts.hostname, port


def pick_person(people, track_id=None):
    """The person to stream: the one whose track_id is track_id, else (track_id None)
    the largest by box area; None when there is no such person."""
    if track_id is not None:
        return next((p for p in people if getattr(p, "track_id", None) == track_id), None)

    def area(p):
        box = p.bbox_xyxy if p.bbox_xyxy is not None else np.r_[np.nanmin(p.keypoints_px, 0),
                                                                   np.nanmax(p.keypoints_px, 0)]
        return float((box[2] - box[0]) * (box[3] - box[1]))
    return max(people, key=area, default=None)


def _message(address, *args):
    builder = OscMessageBuilder(address)
    for a in args:
        builder.add_arg(a)
    return builder.build()


class VmcStream:
    def __init__(self, host, port, track_id=None):
        try:
            self._client = UDPClient(host, port)
        except OSError as e:
            raise ValueError(f"--stream vmc://{host}:{port}: cannot open a UDP socket ({e})") from None
        self.url, self.track_id = f"vmc://{host}:{port}", track_id
        self.sent, self.dropped, self.without_person = 0, 0, 0
        self._origin_m = None  # first streamed pelvis position: the avatar starts where it stands
        self._started = time.monotonic()

    def bundle(self, frame):
        """The OSC bundle of one app.frame.Frame (tracked = whether a skeleton went in)."""
        person = pick_person(frame.people, self.track_id)
        pose = None
        if person is not None and person.joints_m is not None and person.root_m is not None:
            try:
                pose = humanoid_pose(np.asarray(person.joints_m) + np.asarray(person.root_m))
            except ValueError:
                pose = None  # an incomplete skeleton this frame: the avatar holds its pose
        b = OscBundleBuilder(IMMEDIATELY)
        b.add_content(_message("/VMC/Ext/T", float(time.monotonic() - self._started)))
        b.add_content(_message("/VMC/Ext/OK", 1, CALIBRATED, 0, int(pose is not None)))
        b.add_content(_message("/VMC/Ext/Root/Pos", "root", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0))
        if pose is not None:
            if self._origin_m is None:
                self._origin_m = pose.hips_m
            # Hips move with the person from where they stood first, at standing height
            hips = pose.hips_m - self._origin_m + (0.0, pose.hips_height_m, 0.0)
            for i, name in enumerate(pose.names):
                pos = hips if i == 0 else pose.local_position_m[i]
                b.add_content(_message("/VMC/Ext/Bone/Pos", name, *map(float, pos),
                                       *map(float, pose.local_rotation_xyzw[i])))
        return b.build(), pose is not None

    def send(self, frame):
        bundle, tracked = self.bundle(frame)
        self.without_person += not tracked
        try:
            self._client.send(bundle)
            self.sent += 1
        except OSError:  # nobody listening (ICMP refusal), buffer full, network down: drop
            self.dropped += 1

    def hud_line(self):
        return f"stream {self.url}  sent {self.sent}  dropped {self.dropped}"

    def stats(self):
        return {"url": self.url, "protocol": "VMC (OSC over UDP)", "track": self.track_id,
                "bundles_sent": self.sent, "bundles_dropped": self.dropped,
                "frames_without_person": self.without_person}

    def close(self):
        self._client.close()


def open_stream(url, track_id=None):
    """--stream URL -> a stream with send(frame), hud_line(), stats(), close().
    track_id picks the VMC person; ws:// sends every person."""
    scheme, host, port = parse_stream_url(url)
    if scheme == "ws":
        from .wsstream import WebSocketStream
        return WebSocketStream(host, port)
    return VmcStream(host, port, track_id)
