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

from .data import load_trials, split_validation
from .generator import AugmentConfig, eval_samples, make_pool, sample
from .metrics import mpjpe, p_mpjpe
from .model import GUMLP, LOSSES, load_lifter, save_lifter

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
DEFAULTS = {
    "mocap": [os.path.join(SHARED, d) for d in ("cmu-mocap", "hdm05-subset", "cmu-bvh", "cmu-daz-bvh", "cmu-iclone-bvh")],
    "h36m": None, "val_subjects": ["14", "55", "HDM_tr", "bvh_75_19", "02_10"],
    "width": 256, "blocks": 3, "input_norm": "rays", "batch": 256, "steps": 12000,
    "lr": 1e-3, "loss": "likelihood", "minutes": None, "seed": 0, "val_every": 1000, "val_samples": 3000,
    "out": "weights/gumlp_cmu.pt", "init": None, "resume": False, "quick": False, "device": "cpu",
    "augment": {},  # AugmentConfig fields to override (config file only)
}
LOW_POSE_SUBJECTS = ("HDM_tr", "bvh_75_19", "02_10")  # held-out squats/lying/bending, chair sitting, washing


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="YAML file of options (command line wins)")
    ap.add_argument("--mocap", nargs="+", help="mocap folders (ASF/AMC or BVH)")
    ap.add_argument("--h36m", help="folder with data_3d_h36m.npz (VideoPose3D layout); adds S1 S5 S6 S7 S8")
    ap.add_argument("--val-subjects", nargs="+", help="subjects or take names held out of training")
    ap.add_argument("--width", type=int)
    ap.add_argument("--blocks", type=int)
    ap.add_argument("--input-norm", choices=["rays", "screen"])
    ap.add_argument("--batch", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--loss", choices=sorted(LOSSES), help="likelihood: the authors' ||y - mu|| exp(-s) + s "
                    "(default); gaussian: the paper's squared form")
    ap.add_argument("--minutes", type=float, help="time budget: stop (and finish the schedule) by then")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--val-every", type=int)
    ap.add_argument("--val-samples", type=int)
    ap.add_argument("--out")
    ap.add_argument("--device")
    ap.add_argument("--init", help="start from these lifter weights (architecture included) with a fresh "
                    "optimiser and schedule: fine-tuning, e.g. on Human3.6M with --h36m")
    ap.add_argument("--resume", action="store_true", default=None, help="continue from OUT.state")
    ap.add_argument("--quick", action="store_true", default=None, help="tiny model, 60 steps: a smoke test")
    args = ap.parse_args(argv)
    opts = dict(DEFAULTS)
    if args.config:
        with open(args.config) as f:
            opts.update(yaml.safe_load(f) or {})
    cli = {k: v for k, v in vars(args).items() if v is not None and k != "config"}
    if cli.get("quick", opts["quick"]):  # quick sizes, unless given explicitly
        opts.update(width=64, blocks=1, steps=60, batch=128, val_every=30, val_samples=300)
    opts.update(cli)
    return argparse.Namespace(**opts)


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
    a = parse_args(argv)
    torch.manual_seed(a.seed)
    trials = load_trials(a.mocap)
    val = set(a.val_subjects)
    train, _ = split_validation(trials, val)
    if a.h36m:
        from .h36m import h36m_trials
        train += h36m_trials(a.h36m, ("S1", "S5", "S6", "S7", "S8"))
    pool = make_pool(train)
    present = {t.subject for t in trials} | {t.name for t in trials}
    sets = {}
    for label, subj in (("val", val - set(LOW_POSE_SUBJECTS)), ("low_poses", val & set(LOW_POSE_SUBJECTS))):
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
    except (ValueError, OSError) as e:
        sys.exit(f"error: {e}")
