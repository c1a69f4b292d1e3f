"""What every mocap reader returns: a `Motion` (world positions (F, 3) in metres, Y up, and
global rotations (F, 3, 3) per named point, where a rotation maps a direction of the rest
pose to the same direction in frame f), and the one error type of bad motion files."""
from dataclasses import dataclass

import numpy as np

CMU_UNIT_M = 0.0254 / 0.45  # 1 ASF length unit with `length 0.45`: 0.05644 m


class MocapError(ValueError):
    """A motion file that cannot be read; the message names the file and the problem."""


@dataclass
class Motion:
    positions: dict        # name -> (F, 3) metres, world frame, Y up
    rotations: dict        # name -> (F, 3, 3) global rotation relative to the rest pose
    rest: dict             # name -> (3,) rest-pose position (metres)
    fps: float
    source: str

    @property
    def frames(self):
        return len(next(iter(self.positions.values())))


def euler_matrices(angles_deg, order="XYZ"):
    """(F, 3) angles in degrees, one per axis named in `order` -> (F, 3, 3).

    The rotation about order[0] is applied first: R = R[order[2]] R[order[1]] R[order[0]].
    """
    a = np.radians(np.asarray(angles_deg, dtype=np.float64))
    F = a.shape[0]
    R = np.broadcast_to(np.eye(3), (F, 3, 3)).copy()
    for k, axis in enumerate(order.upper()):
        c, s = np.cos(a[:, k]), np.sin(a[:, k])
        M = np.zeros((F, 3, 3))
        i, j = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]
        m = "XYZ".index(axis)
        M[:, m, m] = 1
        M[:, i, i], M[:, i, j], M[:, j, i], M[:, j, j] = c, -s, s, c
        R = M @ R
    return R
