"""Fuzzing `app.finalise` on export directories from outside: any poses.jsonl / meta.json
give npz/csv(/bvh) or one one-line ValueError naming the file (see tests/fuzz_support.py)."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.exports import finalise
from fuzz_support import FUZZ, Tally, mutated

pytestmark = pytest.mark.timeout(300)


def _person(rng):
    return {"keypoints_2d_px": rng.uniform(0, 640, (17, 2)).round(2).tolist(),
            "scores": rng.uniform(0, 1, 17).round(4).tolist(),
            "joints_3d_m": rng.normal(0, 0.3, (17, 3)).round(5).tolist(),
            "root_m": [0.1, 0.2, 3.0], "sigma_m": [0.05] * 17, "refine": {"mode": "uao-feature"}}


def _seed_export():
    rng = np.random.default_rng(0)
    lines = [json.dumps({"frame": i, "time_s": i / 30, "people": [_person(rng)] if i != 1 else []})
             for i in range(3)]
    meta = json.dumps({"fps": 30.0, "bvh_bone_lengths": "median", "joint_names": []})
    return ("\n".join(lines) + "\n").encode(), meta.encode()


_json = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2, 40), st.floats(), st.text(max_size=4)),
                     lambda inner: st.one_of(st.lists(inner, max_size=4),
                                             st.dictionaries(st.sampled_from(
                                                 ["frame", "time_s", "people", "scores", "root_m", "fps",
                                                  "joints_3d_m", "sigma_m", "keypoints_2d_px"]), inner, max_size=5)),
                     max_leaves=20)


def test_fuzz_finalise(tmp_path):
    tally = Tally("poses.jsonl + meta.json (app.finalise)")
    jsonl, meta = _seed_export()
    lines = st.one_of(mutated([jsonl]), st.lists(_json.map(json.dumps), max_size=4).map(
        lambda ls: "\n".join(ls).encode()))

    @FUZZ
    @given(lines, st.one_of(mutated([meta]), _json.map(lambda v: json.dumps(v).encode())))
    def run(jsonl_bytes, meta_bytes):
        (tmp_path / "poses.jsonl").write_bytes(jsonl_bytes)
        (tmp_path / "meta.json").write_bytes(meta_bytes)
        result = tally.check(lambda: finalise(tmp_path), tmp_path)
        if result is not None:
            assert (tmp_path / "poses.npz").is_file() and (tmp_path / "poses.csv").is_file()
    run()
    tally.report(100)
