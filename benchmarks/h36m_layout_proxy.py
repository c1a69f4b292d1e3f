"""A stand-in for the Human3.6M test while the licensed data is absent: held-out mocap
subjects written in the VideoPose3D layout through the real Human3.6M cameras (S9 and
S11 calibrations), with Human3.6M-layout ground-truth 2D, evaluated by the same command
users run on the real files.

    python benchmarks/h36m_layout_proxy.py [--weights weights/gumlp_cmu.pt] [--stride 4] [--flip] [--json OUT]

S9 <- CMU subjects 14 and 55; S11 <- HDM05 actor tr and the chair-sitting BVH (all held out
of training). Action names are the mocap labels. Not Human3.6M's bodies, motions or lab:
a check of the cameras, the 2D layout and the protocol, not a substitute for the real test.
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lifter import evaluate, h36m  # noqa: E402
from lifter.data import load_trials  # noqa: E402
from lifter.train import SHARED as DATA  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="weights/gumlp_cmu.pt")
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--json", default="benchmarks/results/h36m_layout_proxy.json")
    ap.add_argument("--refine", default="none")
    ap.add_argument("--flip", action="store_true", help="average with the mirrored input (test-time flip)")
    a = ap.parse_args()
    cmu = [os.path.join(DATA, "cmu-mocap")]
    low = [os.path.join(DATA, "hdm05-subset"), os.path.join(DATA, "cmu-bvh")]
    subjects = {"S9": load_trials(cmu, subjects={"14", "55"}),
                "S11": load_trials(low, subjects={"HDM_tr", "bvh_75_19"})}
    with tempfile.TemporaryDirectory() as tmp:
        h36m.write_npz(tmp, subjects)
        evaluate.main(["--weights", a.weights, "--h36m", tmp, "--keypoints", "gt", "--stride", str(a.stride),
                       "--refine", a.refine, "--json", a.json] + (["--flip"] if a.flip else []))


if __name__ == "__main__":
    main()
