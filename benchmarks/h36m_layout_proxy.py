"""A stand-in for the Human3.6M test while the licensed data is absent: the held-out takes
least like training, written in the VideoPose3D layout through the real Human3.6M cameras
(S9 and S11 calibrations: a lab's placement) with Human3.6M-definition targets
(lifter/mocap/h36m_targets.py), evaluated by the same command users run on the real files,
with ground-truth 2D and with detector-like noisy 2D (slow drift + jitter + short outliers,
~7 px mean error on 1000 px frames).

    python benchmarks/h36m_layout_proxy.py [--weights weights/gumlp_cmu.pt] [--stride 4] [--old] [--json OUT]

Groups (each reported; the proxy figure is their mean), all held out of training
(configs/train_*.yaml val_subjects) and of recombination:
  sitting  chair sitting down and standing up (cmu-bvh 75_19), S11 cameras
  floor    HDM05 actor tr: lying down and depositing on the floor, S9 cameras
  daily    washing (cmu-iclone-bvh 02_10), S11 cameras
  cmu      CMU ASF subject 55 (dance, stretches, squats), S9 cameras
--old runs the earlier protocol instead (S9 <- CMU 14 and 55, S11 <- HDM05 tr (all
takes) and 75_19; ground-truth 2D only), with today's target definitions.
Not Human3.6M's bodies, motions or lab: a check that moves with the held-out lab test.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lifter import evaluate, h36m  # noqa: E402
from lifter.data import load_trials  # noqa: E402
from lifter.config import shared_data  # noqa: E402

GROUPS = {  # name: (cameras of, folder, subjects or takes, action filter)
    "sitting": ("S11", "cmu-bvh", {"bvh_75_19"}, None),
    "floor": ("S9", "hdm05-subset", {"HDM_tr"}, ("lieDownFloor", "depositFloor")),
    "daily": ("S11", "cmu-iclone-bvh", {"02_10"}, None),
    "cmu": ("S9", "cmu-mocap", {"55"}, None),
}
# Detector-like 2D noise (pixels on 1000 px frames): a slow drift per joint, frame jitter,
# and short outliers.
DRIFT_PX, DRIFT_FRAMES, JITTER_PX = 5.0, 15, 2.5
OUTLIER_RATE, OUTLIER_PX, OUTLIER_FRAMES = 0.004, (20.0, 60.0), (2, 6)


def noisy_2d(kp, rng):
    """(F, 17, 2) exact pixels -> the same with detector-like noise."""
    F = len(kp)
    white = rng.normal(size=(F + 4 * DRIFT_FRAMES, 17, 2))
    kernel = np.hanning(4 * DRIFT_FRAMES)
    drift = np.apply_along_axis(lambda v: np.convolve(v, kernel, "valid")[:F], 0, white)
    drift *= DRIFT_PX / (drift.std() + 1e-9)
    out = kp + drift + rng.normal(0, JITTER_PX, kp.shape)
    for f, j in zip(*np.nonzero(rng.random((F, 17)) < OUTLIER_RATE)):
        ang = rng.uniform(0, 2 * np.pi)
        out[f:f + rng.integers(*OUTLIER_FRAMES), j] += rng.uniform(*OUTLIER_PX) * np.array([np.cos(ang), np.sin(ang)])
    return out


def write_noisy(folder, trials_by_subject, seed=0):
    """data_2d_h36m_noisy.npz beside write_npz's files: the same projections plus noise."""
    cams, rng, pos2 = h36m.load_cameras(), np.random.default_rng(seed), {}
    for subject, trials in trials_by_subject.items():
        pos2[subject] = {}
        for t in trials:
            y_up = t.points[:, :17].astype(np.float64)
            z_up = np.stack([y_up[..., 0], -y_up[..., 2], y_up[..., 1]], -1)
            z_up[..., :2] -= z_up[:, :1, :2]
            views = []
            for cid in h36m.CAMERA_IDS:
                c = cams[subject][cid]
                pc = h36m.world_to_camera(z_up, np.array(c["R_world_to_cam"]), np.array(c["T_cam_centre_world_mm"]) / 1000)
                views.append(noisy_2d(h36m.project(pc, h36m.intrinsics(c)), rng).astype(np.float32))
            pos2[subject][f"{t.action} {t.name}".strip()] = views
    np.savez(os.path.join(folder, "data_2d_h36m_noisy.npz"), positions_2d=pos2,
             metadata={"layout_name": "h36m", "num_joints": 17,
                       "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]})


def run(weights, by_subject, keypoints, stride, json_path, flip=False):
    with tempfile.TemporaryDirectory() as tmp:
        h36m.write_npz(tmp, by_subject)
        if keypoints == "noisy":
            write_noisy(tmp, by_subject)
        res = evaluate.evaluate(evaluate.options(weights=weights, h36m=tmp, keypoints=keypoints, stride=stride,
                                                 subjects=",".join(by_subject), refine="none", flip=flip))
    evaluate.report(res)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(res, f, indent=1)
    return res


def score(weights, stride, tmp, flip=False):
    """Every group with ground-truth and noisy 2D -> {"proxy": {gt|noisy: means over the
    groups}, "groups": {"<group> <gt|noisy>": figures}}."""
    rows = {}
    for name, (cams, folder, subjects, actions) in GROUPS.items():
        trials = load_trials(shared_data(folder), subjects=subjects)
        trials = [t for t in trials if actions is None or t.action.startswith(actions)]
        for kp in ("gt", "noisy"):
            print(f"== {name}, {kp} 2D", flush=True)
            r = run(weights, {cams: trials}, kp, stride, os.path.join(tmp, "r.json"), flip)
            rows[f"{name} {kp}"] = {k: r[k] for k in ("mpjpe_mm", "p_mpjpe_mm", "frames", "sigma_error_pearson",
                                                       "sigma_error_spearman")}
    summary = {kp: {m: float(np.mean([rows[f"{g} {kp}"][m] for g in GROUPS])) for m in ("mpjpe_mm", "p_mpjpe_mm")}
               for kp in ("gt", "noisy")}
    return {"proxy": summary, "groups": rows}


def score_old(weights, stride, tmp, json_path=None, flip=False):
    """The earlier protocol's MPJPE (mm)."""
    by_subject = {"S9": load_trials(shared_data("cmu-mocap"), subjects={"14", "55"}),
                  "S11": load_trials(shared_data("hdm05-subset", "cmu-bvh"),
                                     subjects={"HDM_tr", "bvh_75_19"})}
    return run(weights, by_subject, "gt", stride, json_path or os.path.join(tmp, "old.json"), flip)["mpjpe_mm"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="weights/gumlp_cmu.pt")
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--json", default="benchmarks/results/h36m_layout_proxy.json")
    ap.add_argument("--old", action="store_true", help="the earlier protocol (see above)")
    ap.add_argument("--flip", action="store_true", help="average with the mirrored input (test-time flip)")
    a = ap.parse_args()
    os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if a.old:
            score_old(a.weights, a.stride, tmp, a.json, a.flip)
            return
        res = score(a.weights, a.stride, tmp, a.flip)
    print(f"\n{'group':<16}{'MPJPE':>8}{'P-MPJPE':>9}")
    for name, r in res["groups"].items():
        print(f"{name:<16}{r['mpjpe_mm']:8.1f}{r['p_mpjpe_mm']:9.1f}")
    for kp, s in res["proxy"].items():
        print(f"{'proxy ' + kp:<16}{s['mpjpe_mm']:8.1f}{s['p_mpjpe_mm']:9.1f}")
    with open(a.json, "w") as f:
        json.dump({"weights": a.weights, "stride": a.stride, "flip": a.flip, **res}, f, indent=1)


if __name__ == "__main__":
    main()
