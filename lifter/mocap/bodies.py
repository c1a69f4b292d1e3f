"""Body sizes: each real skeleton's segment lengths relative to the mean of the real
skeletons read here (12 CMU ASF subjects, 5 HDM05 actors), as one length factor per
output joint (its bone to its anchor in lifter/mocap/h36m_targets.py). Human3.6M's
proportions times these factors give targets with Human3.6M's definitions and a real
person's build. The BVH rigs are one figure each: they get the mean body (factor 1).
"""
import numpy as np

from ..skeleton import JOINTS

# segment: (joints whose bone it is, (from, to) raw joints it is measured between)
SEGMENTS = {
    "hip_width": (("right_hip", "left_hip"), ("left_hip", "right_hip")),
    "thigh": (("right_knee", "left_knee"), ("left_hip", "left_knee")),
    "shin": (("right_ankle", "left_ankle"), ("left_knee", "left_ankle")),
    "trunk": (("spine", "thorax"), ("pelvis", "thorax")),
    "head": (("neck_nose", "head"), ("thorax", "head")),
    "shoulder_width": (("right_shoulder", "left_shoulder"), ("left_shoulder", "right_shoulder")),
    "upper_arm": (("right_elbow", "left_elbow"), ("left_shoulder", "left_elbow")),
    "forearm": (("right_wrist", "left_wrist"), ("left_elbow", "left_wrist")),
}
# Mean raw segment lengths (mm) over the 17 real skeletons (per-subject medians), from
# `python -m lifter.mocap.bodies ../shared/data/cmu-mocap ../shared/data/hdm05-subset`.
MEAN_RAW_MM = {"hip_width": 176.0, "thigh": 407.3, "shin": 434.3, "trunk": 549.2, "head": 188.1,
               "shoulder_width": 390.6, "upper_arm": 289.6, "forearm": 188.8}
_J = {n: i for i, n in enumerate(JOINTS)}


def segment_lengths_mm(joints):
    """(F, 17, 3) raw joints (metres) of one body -> {segment: median length in mm}."""
    return {s: float(np.median(np.linalg.norm(joints[:, _J[b]] - joints[:, _J[a]], axis=-1))) * 1000
            for s, (_, (a, b)) in SEGMENTS.items()}


# Overall size from the long segments; each segment's proportion to it is kept within
# +-10 %: beyond that the ASF figures measure marker placement (hip widths of 119-213 mm,
# shoulder widths of 292-511 mm), not people.
SIZE_SEGMENTS = ("thigh", "shin", "trunk")
PROPORTION_RANGE = (0.9, 1.1)


def body_factors(joints):
    """(F, 17, 3) raw joints of one real body -> (17,) float32 length factor per joint."""
    lengths = segment_lengths_mm(joints)
    ratio = {s: lengths[s] / MEAN_RAW_MM[s] for s in SEGMENTS}
    size = np.mean([ratio[s] for s in SIZE_SEGMENTS])
    out = np.ones(len(JOINTS), np.float32)
    for s, (owners, _) in SEGMENTS.items():
        out[[_J[n] for n in owners]] = size * np.clip(ratio[s] / size, *PROPORTION_RANGE)
    return out


def _measure(folders):
    from ..data import read_raw_folder
    per_body = {}
    for folder in folders:
        for t in read_raw_folder(folder):
            per_body.setdefault(t.subject, []).append(t.points[:, :len(JOINTS)])
    rows = [segment_lengths_mm(np.concatenate(v)) for v in per_body.values()]
    print(f"{len(rows)} bodies")
    print({s: round(float(np.mean([r[s] for r in rows])), 1) for s in SEGMENTS})


if __name__ == "__main__":
    import sys
    _measure(sys.argv[1:])
