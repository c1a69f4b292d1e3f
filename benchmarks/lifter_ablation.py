"""Design choices of the lifter's training, measured: each variant trains the same small
GUMLP for the same steps and seed, then is evaluated on held-out mocap subjects (random
cameras, noisy 2D) and held-out low poses (HDM05 actor tr, the chair-sitting BVH).

    python benchmarks/lifter_ablation.py [--steps 400] [--json benchmarks/results/lifter_ablation.json]

Variants: the shipped recipe; the authors' screen normalisation (x / w * 2 - [1, h / w])
instead of camera rays; no re-posing augmentation; no body-size augmentation; the paper's
squared Gaussian likelihood instead of the authors' released loss.
"""
import argparse
import json
import os
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lifter import train  # noqa: E402

VARIANTS = {
    "shipped recipe (rays)": {},
    "screen normalisation": {"input_norm": "screen"},
    "no re-posing": {"augment": {"repose_prob": 0.0}},
    "no body-size augmentation": {"augment": {"scale_range": [1.0, 1.0], "bone_jitter": 0.0}},
    "squared Gaussian loss": {"loss": "gaussian"},
}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--blocks", type=int, default=1)
    ap.add_argument("--json", default="benchmarks/results/lifter_ablation.json")
    ap.add_argument("--only", nargs="+", choices=list(VARIANTS), help="run these variants only")
    a = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in VARIANTS.items():
            if a.only and name not in a.only:
                continue
            cfg = {"width": a.width, "blocks": a.blocks, "steps": a.steps, "val_every": a.steps,
                   "val_samples": 3000, "out": os.path.join(tmp, "w.pt"), **extra}
            path = os.path.join(tmp, "cfg.yaml")
            with open(path, "w") as f:
                yaml.safe_dump(cfg, f)
            print(f"== {name}", flush=True)
            rows[name] = train.main(["--config", path])[-1]
    print(f"\n{'variant':<28}{'held-out MPJPE':>16}{'P-MPJPE':>9}{'low poses MPJPE':>17}{'P-MPJPE':>9}")
    for name, h in rows.items():
        print(f"{name:<28}{h['val_mpjpe_mm']:16.1f}{h['val_p_mpjpe_mm']:9.1f}"
              f"{h['low_poses_mpjpe_mm']:17.1f}{h['low_poses_p_mpjpe_mm']:9.1f}")
    settings = {"steps": a.steps, "width": a.width, "blocks": a.blocks}
    if a.only and os.path.isfile(a.json):  # keep the other variants of a run with the same settings
        with open(a.json) as f:
            old = json.load(f)
        if all(old.get(k) == v for k, v in settings.items()):
            rows = {**old["results"], **rows}
    os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
    with open(a.json, "w") as f:
        json.dump({**settings, "results": rows}, f, indent=1)


if __name__ == "__main__":
    main()
