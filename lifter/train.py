"""Train GUMLP on mocap (and optionally Human3.6M) through random virtual cameras.

    python -m lifter.train --config configs/train_default.yaml
    python -m lifter.train --mocap ../shared/data/cmu-mocap --quick --out /tmp/quick.pt
    python -m lifter.train --config configs/train_finetune.yaml   # continue the shipped weights

Checkpoints: OUT (best validation weights, the file to ship) and OUT.state (last
step, optimiser state) which `--resume` continues from.
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import yaml
from tqdm import tqdm

from . import config
from .data import load_trials, split_validation
from .generator import AugmentConfig, eval_samples, make_pool, sample
from .metrics import mpjpe, p_mpjpe
from .model import GUMLP, LOSSES, load_lifter, save_lifter

DEFAULTS = {
    "mocap": config.shared_data("cmu-mocap", "hdm05-subset", "cmu-bvh", "cmu-daz-bvh", "cmu-iclone-bvh"),
    "h36m": None, "val_subjects": list(config.HELDOUT_SUBJECTS),
    "width": 256, "blocks": 3, "input_norm": "rays", "batch": 256, "steps": 12000,
    "lr": 1e-3, "loss": "likelihood", "minutes": None, "seed": 0, "val_every": 1000, "val_samples": 3000,
    "out": config.DEFAULT_WEIGHTS, "init": None, "resume": False, "quick": False, "device": "cpu",
    "augment": {},  # AugmentConfig fields to override
}
# --quick: a smoke test's sizes. They replace built-in defaults and config-file values, never
# options given on the command line; replaced file values are named on stderr.
QUICK = {"width": 64, "blocks": 1, "steps": 60, "batch": 128, "val_every": 30, "val_samples": 300}


def augment_overrides(text):
    """--augment '{noise_frac: [0.01, 0.03]}': AugmentConfig fields as a YAML mapping."""
    value = yaml.safe_load(text) if isinstance(text, str) else text
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a mapping of AugmentConfig fields")
    unknown = sorted(set(value) - set(AugmentConfig.__dataclass_fields__))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown AugmentConfig field(s) {', '.join(map(str, unknown))}")
    return value


def build_parser():
    ap = argparse.ArgumentParser(prog="python -m lifter.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    a = ap.add_argument
    a("--config", help="YAML file of options, keys = option names (see lifter/config.py for precedence)")
    a("--mocap", nargs="+", type=str, help="mocap folders (ASF/AMC or BVH)")
    a("--h36m", help="folder with data_3d_h36m.npz (VideoPose3D layout); adds S1 S5 S6 S7 S8")
    a("--val-subjects", nargs="+", type=str, help="subjects held out for validation")
    a("--width", type=int)
    a("--blocks", type=int)
    a("--input-norm", choices=["rays", "screen"])
    a("--batch", type=int)
    a("--steps", type=int)
    a("--lr", type=float)
    a("--loss", choices=sorted(LOSSES), help="likelihood: the authors' ||y - mu|| exp(-s) + s "
      "(default); gaussian: the paper's squared form")
    a("--minutes", type=float, help="time budget: stop (and finish the schedule) by then")
    a("--seed", type=int)
    a("--val-every", type=int)
    a("--val-samples", type=int)
    a("--out")
    a("--device")
    a("--init", help="start from these lifter weights (architecture included) with a fresh "
      "optimiser and schedule: fine-tuning, e.g. on Human3.6M with --h36m")
    a("--resume", action="store_true", help="continue from OUT.state")
    a("--quick", action="store_true", help="tiny model, 60 steps: a smoke test (explicit options still win)")
    a("--augment", type=augment_overrides, help="AugmentConfig fields to override, as a YAML mapping")
    ap.set_defaults(**DEFAULTS)
    return ap


def parse_args(argv):
    """Options: built-in defaults < config file < --quick preset < explicit command line."""
    args, sources = config.parse_args(build_parser(), argv)
    if args.quick:
        replaced = sorted(k for k in QUICK if sources[k] == "file")
        if replaced:
            print(f"--quick replaces the config file's {', '.join(replaced)}", file=sys.stderr)
        for k, v in QUICK.items():
            if sources[k] != "command line":
                setattr(args, k, v)
    return args


def validate(model, sets, device):
    model.eval()
    out = {}
    with torch.inference_mode():
        for name, s in sets.items():
            mu, _ = model(torch.from_numpy(s["x"]).to(device))
            mu = mu.cpu().numpy()
            out[name] = (1000 * mpjpe(mu, s["joints_m"]).mean(), 1000 * p_mpjpe(mu, s["joints_m"]).mean())
    model.train()
    return out


def main(argv=None):
    """Command line: options (see parse_args) -> run. Returns the validation history."""
    return run(parse_args(sys.argv[1:] if argv is None else argv))


def options(**values):
    """Options namespace for run(): the built-in defaults with `values` applied, e.g.
    options(mocap=[...], steps=100, out="/tmp/w.pt")."""
    return config.namespace(build_parser(), **values)


def run(a):
    """Train with the options namespace `a` (see options(); the library entry point for
    benchmarks). Returns the validation history."""
    torch.manual_seed(a.seed)
    trials = load_trials(a.mocap)
    val = set(a.val_subjects)
    train, _ = split_validation(trials, val)
    if a.h36m:
        from .h36m import h36m_trials
        train += h36m_trials(a.h36m, config.H36M_TRAIN_SUBJECTS)
    pool = make_pool(train)
    present = {t.subject for t in trials} | {t.name for t in trials}
    sets = {}
    for label, subj in (("val", val - set(config.LOW_POSE_SUBJECTS)), ("low_poses", val & set(config.LOW_POSE_SUBJECTS))):
        subj &= present
        if subj:
            s = eval_samples(a.mocap, sorted(subj), a.val_samples, seed=123)
            sets[label] = s
    if a.init:
        model = load_lifter(a.init, a.device).train()  # its own width, blocks and input_norm
        a.input_norm = model.config["input_norm"]
        init = {"weights": os.path.basename(a.init), "trained_steps": model.meta.get("trained_steps"),
                "init": model.meta.get("init")}
    else:
        model = GUMLP(width=a.width, blocks=a.blocks, input_norm=a.input_norm).to(a.device)
        init = None
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, amsgrad=True)
    state_path = a.out + ".state"  # not *.pt: a resume state is no weights file to ship
    step, best, history, spent = 0, float("inf"), [], 0.0
    if a.resume and os.path.isfile(state_path):
        st = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, best, history, spent = st["step"], st["best"], st["history"], st["seconds"]
        tqdm.write(f"resumed from {state_path} at step {step}")
    rng = np.random.default_rng(a.seed + step)
    cfg = AugmentConfig(**a.augment)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    model.train()
    t0 = time.time() - spent

    def progress():  # the run ends at whichever budget runs out first: steps or minutes
        by_time = (time.time() - t0) / 60 / a.minutes if a.minutes else 0.0
        return min(max(step / a.steps, by_time), 1.0)

    run_meta = {"val_subjects": sorted(val), "mocap": [os.path.basename(os.path.normpath(m)) for m in a.mocap],
                "h36m": bool(a.h36m), "loss": a.loss, "lr": a.lr, "init": init}

    def checkpoint():  # validate; OUT keeps the best weights so far, OUT.state the latest
        nonlocal best
        res = validate(model, sets, a.device)
        score = float(sum(v[0] for v in res.values()))
        history.append({"step": step, "minutes": (time.time() - t0) / 60,
                        **{f"{k}_mpjpe_mm": round(float(v[0]), 1) for k, v in res.items()},
                        **{f"{k}_p_mpjpe_mm": round(float(v[1]), 1) for k, v in res.items()}})
        tqdm.write(" ".join(f"{k}={v}" for k, v in history[-1].items()))
        if score < best:
            best = score
            save_lifter(model, a.out, {"trained_steps": step, "history": history, **run_meta})
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "best": best,
                    "history": history, "seconds": time.time() - t0}, state_path)

    if init and step == 0:  # the starting point is the score to beat
        checkpoint()
    bar = tqdm(total=a.steps, initial=step, desc="training", dynamic_ncols=True)
    done = False
    while not done:
        # cosine decay to 5 % of the initial rate over the run
        for g in opt.param_groups:
            g["lr"] = a.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress())))
        b = sample(pool, a.batch, rng, cfg, a.input_norm)
        mu, s = model(torch.from_numpy(b["x"]).to(a.device))
        loss = LOSSES[a.loss](mu, s, torch.from_numpy(b["target_m"]).to(a.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        done = progress() >= 1.0
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % a.val_every == 0 or done:
            checkpoint()
    bar.close()
    return history


if __name__ == "__main__":
    try:
        main()
    except (ValueError, OSError) as e:  # bad options or data: one line, exit status 2
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        sys.exit(2)
