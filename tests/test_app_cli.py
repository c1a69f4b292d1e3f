"""Command line and config: every option documented, config file == CLI, clear errors."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.cli import build_parser, make_intrinsics, option_defaults, parse_args

REPO = Path(__file__).resolve().parents[1]


def test_demo_config_lists_every_option_with_its_default():
    config = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    assert config == option_defaults()


def test_help_is_complete():
    out = subprocess.run([sys.executable, "run_demo.py", "--help"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0
    for action in build_parser()._actions:
        for flag in action.option_strings:
            assert flag in out.stdout
        if action.option_strings and action.dest != "help":
            assert action.help, f"{action.option_strings} has no help text"


def test_config_values_apply_and_command_line_wins(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("source: clip.mp4\nrefine: none\niters: 9\nfov-deg: 80\n")
    args = parse_args(["--config", str(cfg), "--iters", "2"])
    assert (args.source, args.refine, args.iters, args.fov_deg) == ("clip.mp4", "none", 2, 80.0)


@pytest.mark.parametrize("argv, message", [
    (["--viewer", "none"], "no --source given"),
    (["--source", "x.mp4", "--render-video"], "--render-video writes DIR/overlay.mp4"),
    (["--source", "x.mp4", "--max-frames", "0"], "--max-frames 0: must be at least 1"),
])
def test_bad_options_are_one_line_errors(argv, message):
    with pytest.raises(ValueError, match=message):
        parse_args(argv)


def test_unknown_config_key(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("source: a.mp4\nrefinement: uao\n")
    with pytest.raises(ValueError, match=r"config .*c.yaml: unknown option\(s\) refinement"):
        parse_args(["--config", str(cfg)])


def test_calibration_scaled_to_the_frame(tmp_path):
    calib = tmp_path / "cam.json"
    calib.write_text('{"camera_matrix": [[1000, 0, 640], [0, 1000, 360], [0, 0, 1]], '
                     '"image_width": 1280, "image_height": 720}')
    intr = make_intrinsics(parse_args(["--source", "x", "--calib", str(calib)]))
    half = intr(640, 360)
    assert (half.fx, half.cx, half.width) == (500, 320, 640)
    with pytest.raises(ValueError, match="different aspect ratio"):
        intr(640, 480)
    fov = make_intrinsics(parse_args(["--source", "x", "--fov-deg", "90"]))(640, 480)
    assert fov.fx == pytest.approx(320)
