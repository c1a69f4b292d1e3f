"""The one configuration loader (YAML file + command line) and the project-wide defaults.

Every command (run_demo.py, lifter.train, lifter.evaluate, the benchmarks) declares its
options with argparse and reads them through `parse_args(parser, argv)`:

  precedence: built-in default  <  --config FILE  <  options given on the command line

Keys of the file are option names; dashes and underscores are both accepted, in the file
and on the command line (`--val_subjects` = `--val-subjects`). An unknown key, or a file
value of the wrong kind, is a one-line `ConfigError` (a ValueError) naming the file.
"""
import argparse
import os
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WEIGHTS = "weights/gumlp_cmu.pt"   # the shipped lifter, relative to the repository
# Mocap subjects held out of training (configs/train_*.yaml val_subjects): CMU 14 and 55,
# the low poses (HDM05 squats/lying/bending, CMU BVH 75_19 chair sitting) and the
# iClone washing take 02_10 (daily hand activity).
HELDOUT_SUBJECTS = ("14", "55", "HDM_tr", "bvh_75_19", "02_10")
LOW_POSE_SUBJECTS = ("HDM_tr", "bvh_75_19", "02_10")  # squats/lying/bending, chair sitting, washing
H36M_TEST_SUBJECTS = ("S9", "S11")           # the standard Human3.6M protocol's test subjects
H36M_TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")


class ConfigError(ValueError):
    """A configuration that cannot be used; one line naming the file or option."""


def shared_dir():
    """The shared data folder: $POSE_SHARED if set, else ../shared beside the repository."""
    return Path(os.environ.get("POSE_SHARED") or REPO.parent / "shared")


def shared_data(*names):
    """Paths of folders under shared/data (e.g. shared_data("cmu-mocap")) as strings."""
    return [str(shared_dir() / "data" / n) for n in names]


def weights_path(path=DEFAULT_WEIGHTS):
    """An existing lifter checkpoint path; a relative path not found here is looked up in
    the repository, so the default works from any working directory."""
    p = Path(path)
    if not p.is_absolute() and not p.exists() and (REPO / p).exists():
        p = REPO / p
    if not p.is_file():
        hint = " (the shipped lifter has not been trained yet: run `make train`, or pass --weights)" \
            if str(path) == DEFAULT_WEIGHTS else ""
        raise ConfigError(f"lifter weights {path}: file not found{hint}")
    return p


def comma_list(text):
    """argparse type: "S9, S11" -> ["S9", "S11"]; a YAML list gives its items as strings."""
    if isinstance(text, (list, tuple)):
        return [str(x) for x in text]
    return [x.strip() for x in str(text).split(",") if x.strip()]


def option_actions(parser):
    """{dest: argparse action} of every option but --help and --config."""
    return {a.dest: a for a in parser._actions if a.dest not in ("help", "config")}


def _check_value(where, key, action, value):
    """A file value has none of argparse's conversion: check its kind here (`where` starts errors)."""
    if value is None:
        return value
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false, not {value!r}")
        return value
    kind = action.type
    if action.nargs in ("+", "*"):  # a list option: each item checked as the option's type
        items = value if isinstance(value, list) else [value]
        return [_check_value(where, key, _Item(action), v) for v in items]
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not float(value).is_integer()):
            raise ConfigError(f"{where}: {key} must be {'a whole number' if kind is int else 'a number'}, "
                              f"not {value!r}")
        value = kind(value)
    elif kind is not None:  # a converter (str, comma_list, ...) takes text and parsed YAML alike
        try:
            value = kind(value)
        except (TypeError, ValueError, argparse.ArgumentTypeError) as e:
            raise ConfigError(f"{where}: {key}: {e}") from None
    if action.choices is not None and value not in action.choices:
        raise ConfigError(f"{where}: {key} {value!r} is not one of {', '.join(map(str, action.choices))}")
    return value


class _Item:
    """One item of a list option, for _check_value."""
    nargs = None

    def __init__(self, action):
        self.type, self.choices = action.type, action.choices


def load_config(path, parser):
    """{dest: value} of a YAML config file, checked against the parser's options."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise ConfigError(f"config {path}: cannot be read ({e.strerror})") from None
    except (yaml.YAMLError, ValueError) as e:
        raise ConfigError(f"config {path}: not valid YAML ({str(e).splitlines()[0] if str(e) else e})") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ConfigError(f"config {path}: expected a mapping of option: value")
    actions = option_actions(parser)
    unknown = [k for k in data if k.replace("-", "_") not in actions]
    if unknown:
        raise ConfigError(f"config {path}: unknown option(s) {', '.join(sorted(unknown))} (see --help)")
    values = {k.replace("-", "_"): _check_value(f"config {path}", k, actions[k.replace("-", "_")], v)
              for k, v in data.items()}
    return values


def namespace(parser, **values):
    """The options a command would get from a config file holding `values` (checked the
    same way), for calling its library function without a command line."""
    actions = option_actions(parser)
    unknown = sorted(k for k in values if k.replace("-", "_") not in actions)
    if unknown:
        raise ConfigError(f"{parser.prog}: unknown option(s) {', '.join(unknown)}")
    args = argparse.Namespace(**{dest: a.default for dest, a in actions.items()})
    for key, value in values.items():
        dest = key.replace("-", "_")
        setattr(args, dest, _check_value(parser.prog, key, actions[dest], value))
    return args


def normalise_argv(argv):
    """--an_option -> --an-option (values, and anything after a bare --, are left alone)."""
    out = []
    for i, tok in enumerate(argv):
        if tok == "--":
            return out + list(argv[i:])
        if tok.startswith("--") and "_" in tok.split("=", 1)[0]:
            name, eq, value = tok.partition("=")
            tok = name.replace("_", "-") + eq + value
        out.append(tok)
    return out


def parse_args(parser, argv):
    """Parse `argv` (a list) with `parser` and its --config file.

    Returns (namespace, sources): sources maps every option to "default", "file" or
    "command line", so a command can apply presets below explicit options (see train --quick).
    """
    argv = normalise_argv(sys.argv[1:] if argv is None else list(argv))
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    first, _ = pre.parse_known_args(argv)
    file_values = load_config(first.config, parser) if first.config else {}
    parser.set_defaults(**file_values)
    args = parser.parse_args(argv)
    # which options the command line set: parse again with every default suppressed
    bare = argparse.ArgumentParser(add_help=False)
    for action in option_actions(parser).values():
        kw = {"dest": action.dest, "default": argparse.SUPPRESS}
        if action.nargs == 0:
            bare.add_argument(*action.option_strings, action="store_const", const=True, **kw)
        elif action.option_strings:
            bare.add_argument(*action.option_strings, nargs=action.nargs, **kw)
    given, _ = bare.parse_known_args(argv)
    sources = {dest: "command line" if dest in vars(given) else "file" if dest in file_values else "default"
               for dest in option_actions(parser)}
    return args, sources
