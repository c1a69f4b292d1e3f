"""Fuzzing the other parsers of outside files: calibration YAML/XML/JSON, VideoPose3D npz,
lifter checkpoints. Any bytes give a result or one one-line ValueError naming the file
(see tests/fuzz_support.py)."""
import io
import json

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fuzz_support import FUZZ, Tally, mutated
from lifter import h36m
from lifter.camera import load_calibration
from lifter.model import GUMLP, load_lifter, save_lifter
from lifter.safe_npz import load_npz

pytestmark = pytest.mark.timeout(300)

K = np.array([[800.0, 0, 321], [0, 805, 239], [0, 0, 1]])
CALIBRATIONS = {
    ".yaml": b"%YAML:1.0\n---\nimage_width: 640\nimage_height: 480\ncamera_matrix: !!opencv-matrix\n"
             b"   rows: 3\n   cols: 3\n   dt: d\n   data: [ 800., 0., 321., 0., 805., 239., 0., 0., 1. ]\n"
             b"distortion_coefficients: !!opencv-matrix\n   rows: 1\n   cols: 5\n   dt: d\n"
             b"   data: [ -0.1, 0.01, 0.001, 0.002, 0. ]\n",
    ".xml": b'<?xml version="1.0"?>\n<opencv_storage>\n<image_width>640</image_width>\n'
            b'<image_height>480</image_height>\n<camera_matrix type_id="opencv-matrix">\n  <rows>3</rows>\n'
            b"  <cols>3</cols>\n  <dt>d</dt>\n  <data>\n    800. 0. 321. 0. 805. 239. 0. 0. 1.</data></camera_matrix>\n"
            b'<distortion_coefficients type_id="opencv-matrix">\n  <rows>1</rows>\n  <cols>5</cols>\n'
            b"  <dt>d</dt>\n  <data>\n    -0.1 0.01 0.001 0.002 0.</data></distortion_coefficients>\n</opencv_storage>\n",
    ".json": json.dumps({"camera_matrix": K.tolist(), "distortion_coefficients": [-0.1, 0.01, 0.001, 0.002, 0],
                        "image_width": 640, "image_height": 480}).encode(),
}


@pytest.mark.parametrize("suffix", sorted(CALIBRATIONS))
def test_fuzz_calibration(tmp_path, suffix):
    tally, path = Tally(f"calibration {suffix}"), tmp_path / f"camera{suffix}"
    seed = tmp_path / f"seed{suffix}"
    seed.write_bytes(CALIBRATIONS[suffix])
    assert load_calibration(str(seed)).fx == 800  # the unmutated seed is a valid calibration

    @FUZZ
    @given(mutated(list(CALIBRATIONS.values())))
    def run(data):
        path.write_bytes(data)
        intr = tally.check(lambda: load_calibration(str(path)), path)
        if intr is not None:
            assert intr.fx > 0 and intr.fy > 0 and intr.width > 0 and intr.height > 0
    run()
    tally.report(100)


def _videopose3d_bytes(pos3, pos2):
    buf3, buf2 = io.BytesIO(), io.BytesIO()
    np.savez(buf3, positions_3d=pos3)
    np.savez(buf2, positions_2d=pos2)
    return buf3.getvalue(), buf2.getvalue()


def _seed_layout():
    rng = np.random.default_rng(0)
    pos3 = {"S9": {"Walking 1": rng.normal(0, 1, (5, 32, 3))}}
    pos2 = {"S9": {"Walking 1": [rng.uniform(0, 1000, (5, 17, 2)).astype(np.float32) for _ in range(4)]}}
    return _videopose3d_bytes(pos3, pos2)


# Python values the VideoPose3D layout could hold, nested the wrong way or with odd arrays.
_leaf = st.one_of(st.none(), st.integers(-3, 40), st.floats(), st.text(max_size=4),
                  arrays(st.sampled_from([np.float64, np.float32, np.int16, np.bool_, np.uint8]),
                         st.tuples(st.integers(0, 6), st.sampled_from([17, 32, 3]), st.integers(0, 4))),
                  arrays(np.float64, st.integers(0, 4)))
_layout = st.recursive(_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.sampled_from(["S9", "S11", "Walking 1", "x"]), inner,
                                                 max_size=3)), max_leaves=12)


def test_fuzz_videopose3d_npz_bytes(tmp_path):
    tally = Tally("VideoPose3D npz (bytes)")
    seed3, seed2 = _seed_layout()

    @FUZZ
    @given(mutated([seed3]), mutated([seed2]))
    def run(data3, data2):
        (tmp_path / "data_3d_h36m.npz").write_bytes(data3)
        (tmp_path / "data_2d_h36m_gt.npz").write_bytes(data2)
        tally.check(lambda: h36m.load_sequences(str(tmp_path), "gt", ("S9",)), tmp_path)
    run()
    tally.report(100)


def test_fuzz_videopose3d_npz_structure(tmp_path):
    tally = Tally("VideoPose3D npz (structure)")

    @FUZZ
    @given(_layout, _layout)
    def run(pos3, pos2):
        data3, data2 = _videopose3d_bytes({"S9": pos3}, {"S9": pos2})
        (tmp_path / "data_3d_h36m.npz").write_bytes(data3)
        (tmp_path / "data_2d_h36m_gt.npz").write_bytes(data2)
        tally.check(lambda: h36m.load_sequences(str(tmp_path), "gt", ("S9",)), tmp_path)
        tally.check(lambda: h36m.h36m_trials(str(tmp_path), ("S9",)), tmp_path)
        tally.check(lambda: load_npz(tmp_path / "data_2d_h36m_gt.npz"), tmp_path)
    run()
    tally.report(100)


def _checkpoint_bytes(config, state=None, fmt="gumlp-v1"):
    buf = io.BytesIO()
    torch.save({"format": fmt, "config": config, "state_dict": state or {}, "meta": {}}, buf)
    return buf.getvalue()


def test_fuzz_lifter_checkpoint(tmp_path):
    tally, path = Tally("lifter checkpoint"), tmp_path / "w.pt"
    save_lifter(GUMLP(width=16, blocks=1, embed=8), tmp_path / "seed.pt")
    seed = (tmp_path / "seed.pt").read_bytes()
    configs = st.dictionaries(st.sampled_from(["width", "blocks", "embed", "kernels", "drop_path", "dropout",
                                               "input_norm", "depth"]),
                              st.one_of(st.integers(-5, 10 ** 12), st.floats(), st.text(max_size=3), st.none(),
                                        st.lists(st.integers(-2, 9), max_size=3)), max_size=4)

    @FUZZ
    @given(st.one_of(mutated([seed]), configs.map(_checkpoint_bytes),
                     st.builds(_checkpoint_bytes, st.just({"width": 16, "blocks": 1, "embed": 8}),
                               st.dictionaries(st.text(max_size=8), st.just(torch.zeros(2)), max_size=2))))
    def run(data):
        path.write_bytes(data)
        model = tally.check(lambda: load_lifter(path), path)
        if model is not None:
            mu, s = model(torch.zeros(1, 17, 2))
            assert mu.shape == (1, 17, 3)
    run()
    tally.report(100)
