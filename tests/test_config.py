"""The one configuration loader: file + command line, precedence, unknown keys, spellings."""
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import build_parser as app_parser
from lifter import config, evaluate, train

REPO = Path(__file__).resolve().parents[1]


def test_precedence_default_file_command_line(tmp_path):
    cfg = tmp_path / "e.yaml"
    cfg.write_text("refine: uao\niters: 7\nsequence-frames: 50\nsubjects: [S9]\n")
    a, sources = config.parse_args(evaluate.build_parser(), ["--config", str(cfg), "--iters", "2", "--h36m", "d"])
    assert (a.refine, a.iters, a.sequence_frames, a.subjects, a.stride) == ("uao", 2, 50, ["S9"], 1)
    assert (sources["refine"], sources["iters"], sources["stride"]) == ("file", "command line", "default")


def test_dashes_and_underscores_on_both_sides(tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("val_every: 5\nval-samples: 7\n")
    a = train.parse_args(["--config", str(cfg), "--input_norm", "screen", "--val-subjects", "14"])
    assert (a.val_every, a.val_samples, a.input_norm, a.val_subjects) == (5, 7, "screen", ["14"])


@pytest.mark.parametrize("parser", [app_parser, evaluate.build_parser, train.build_parser])
@pytest.mark.parametrize("text, message", [
    ("no_such_option: 1\n", r"unknown option\(s\) no_such_option"),
    ("- just\n- a list\n", "expected a mapping"),
    ("iters: [1\n", "not valid YAML"),
])
def test_bad_files_are_one_line_errors_for_every_command(tmp_path, parser, text, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(config.ConfigError, match=rf"config {cfg}: {message}") as e:
        config.parse_args(parser(), ["--config", str(cfg)])
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("text, message", [
    ("iters: four\n", "iters must be a whole number"),
    ("iters: 2.5\n", "iters must be a whole number"),
    ("refine: polish\n", "refine 'polish' is not one of"),
    ("flip: 1\n", "flip must be true or false"),
])
def test_file_values_of_the_wrong_kind(tmp_path, text, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(config.ConfigError, match=message):
        config.parse_args(evaluate.build_parser(), ["--config", str(cfg)])


def test_quick_never_overrides_the_command_line_and_names_what_it_replaces(tmp_path, capsys):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("steps: 10000\nwidth: 256\nlr: 0.01\n")
    a = train.parse_args(["--config", str(cfg), "--quick", "--blocks", "2"])
    assert (a.steps, a.width, a.blocks, a.lr) == (60, 64, 2, 0.01)
    assert "--quick replaces the config file's steps, width" in capsys.readouterr().err
    assert train.parse_args(["--quick", "--steps", "4"]).steps == 4


def test_augment_overrides_are_checked(tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("augment: {flip: false}\n")
    assert train.parse_args(["--config", str(cfg)]).augment == {"flip": False}
    cfg.write_text("augment: {flipp: false}\n")
    with pytest.raises(config.ConfigError, match="unknown AugmentConfig field"):
        train.parse_args(["--config", str(cfg)])


def test_one_place_for_the_defaults():
    assert app_parser().get_default("weights") == evaluate.build_parser().get_default("weights") \
        == train.DEFAULTS["out"] == config.DEFAULT_WEIGHTS
    assert train.DEFAULTS["val_subjects"] == list(config.HELDOUT_SUBJECTS)
    assert config.weights_path().resolve() == REPO / config.DEFAULT_WEIGHTS
    with pytest.raises(config.ConfigError, match="nope.pt: file not found"):
        config.weights_path("nope.pt")
    for line in (REPO / "configs" / "train_default.yaml").read_text().splitlines():
        if line.startswith("val_subjects"):
            assert eval(line.split(":", 1)[1].split("#")[0]) == list(config.HELDOUT_SUBJECTS)


def test_default_weights_found_from_another_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert config.weights_path() == REPO / config.DEFAULT_WEIGHTS


def test_shared_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("POSE_SHARED", str(tmp_path))
    assert config.shared_data("cmu-bvh") == [str(tmp_path / "data" / "cmu-bvh")]
    monkeypatch.delenv("POSE_SHARED")
    assert config.shared_dir() == REPO.parent / "shared"


def test_train_cli_bad_config_exits_2(tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("stepz: 3\n")
    out = subprocess.run([sys.executable, "-m", "lifter.train", "--config", str(cfg)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr == f"error: config {cfg}: unknown option(s) stepz (see --help)\n"


def test_detector_errors_name_options_that_exist():
    from detectors.mmpose_topdown import check_device
    with pytest.raises(ValueError) as e:
        check_device("tpu:9")
    flag = str(e.value).split()[0]
    assert flag == "--device" and any(flag in a.option_strings for a in app_parser()._actions)


def test_demo_config_describes_what_uao_refines():
    line = next(l for l in (REPO / "configs" / "demo.yaml").read_text().splitlines() if l.startswith("refine:"))
    assert "uao (refines the normalised 2D input)" in line and "refine the pose" not in line


def test_library_options_without_a_command_line():
    a = evaluate.options(h36m="d", sequence_frames=250, refine="uao-feature", subjects="S9, S11")
    assert (a.h36m, a.sequence_frames, a.refine, a.subjects, a.iters) == ("d", 250, "uao-feature", ["S9", "S11"], 4)
    assert train.options(steps=5).steps == 5 and train.options().out == config.DEFAULT_WEIGHTS
    with pytest.raises(config.ConfigError, match="unknown option"):
        evaluate.options(refinement="uao")
    with pytest.raises(config.ConfigError, match="must be a whole number"):
        train.options(steps="many")
