"""Fuzzing the mocap readers (ASF, AMC with forward kinematics, BVH): any bytes give a
Motion or one one-line MocapError naming the file (see tests/fuzz_support.py)."""
import pytest
from hypothesis import given

from fuzz_support import FUZZ, Tally, mutated
from lifter.mocap.asf import asf_amc_motion, read_asf
from lifter.mocap.bvh import read_bvh

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def seeds(shared):
    asf = (shared / "data" / "cmu-mocap" / "asf" / "16.asf").read_bytes()
    amc_lines = (shared / "data" / "cmu-mocap" / "amc" / "16_15.amc").read_bytes().split(b"\n")
    start = next(i for i, line in enumerate(amc_lines) if line.strip() == b"1")
    amc = b"\n".join(amc_lines[:start + 3 * 30])  # header and the first frames
    bvh = (shared / "data" / "cmu-bvh" / "75_19.bvh").read_bytes()
    head, _, motion = bvh.partition(b"MOTION")
    rows = motion.strip().split(b"\n")
    bvh = head + b"MOTION\nFrames: 3\nFrame Time: 0.0083333\n" + b"\n".join(rows[2:5]) + b"\n"
    return {"asf": asf, "amc": amc, "bvh": bvh}


@pytest.mark.parametrize("kind, read", [("asf", read_asf), ("bvh", read_bvh)])
def test_fuzz_asf_and_bvh(seeds, tmp_path, kind, read):
    tally, path = Tally(kind.upper()), tmp_path / f"file.{kind}"

    @FUZZ
    @given(mutated([seeds[kind]]))
    def run(data):
        path.write_bytes(data)
        tally.check(lambda: read(str(path)), path)
    run()
    tally.report(100)


def test_fuzz_amc_with_forward_kinematics(seeds, tmp_path):
    tally, asf, amc = Tally("AMC"), tmp_path / "skeleton.asf", tmp_path / "motion.amc"
    asf.write_bytes(seeds["asf"])

    @FUZZ
    @given(mutated([seeds["amc"]]))
    def run(data):
        amc.write_bytes(data)
        tally.check(lambda: asf_amc_motion(str(asf), str(amc)), amc)
    run()
    tally.report(100)

