"""Data choices of the lifter's training, measured: each variant trains the same small
GUMLP for the same steps and seed, then is scored on the held-out proxy
(benchmarks/h36m_layout_proxy.py: four groups least like training, through the Human3.6M
cameras, ground-truth and noisy 2D) and on the old proxy protocol.

    python benchmarks/lifter_ablation.py [--steps 400] [--only NAME ...] [--json benchmarks/results/lifter_ablation.json]

Variants (all with Human3.6M-definition targets): the mocap as before (ASF/AMC and 75_19)
against every source (the Daz and iClone BVH rigs added); then on every source each
synthesis alone (recombination, retargeting onto real skeletons, hands to face/table,
bone-angle turns, lab cameras) and all of them together.
"""
import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import h36m_layout_proxy as proxy  # noqa: E402  (benchmarks/ is this script's own folder)
from lifter import train  # noqa: E402
from lifter.config import shared_data  # noqa: E402

OLD_MOCAP = shared_data("cmu-mocap", "hdm05-subset", "cmu-bvh")
ALL = {"recombine_prob": 0.2, "retarget_prob": 0.5, "reach_prob": 0.15, "perturb_prob": 0.3, "lab_camera_prob": 0.3}
VARIANTS = {
    "earlier sources": {"mocap": OLD_MOCAP},
    "every source": {},
    "+ recombination 0.2": {"augment": {"recombine_prob": 0.2}},
    "+ retargeting 0.5": {"augment": {"retarget_prob": 0.5}},
    "+ hands to face/table 0.15": {"augment": {"reach_prob": 0.15}},
    "+ bone turns 0.3": {"augment": {"perturb_prob": 0.3}},
    "+ lab cameras 0.3": {"augment": {"lab_camera_prob": 0.3}},
    "+ all synthesis": {"augment": ALL},
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--blocks", type=int, default=1)
    ap.add_argument("--proxy-stride", type=int, default=8)
    ap.add_argument("--json", default="benchmarks/results/lifter_ablation.json")
    ap.add_argument("--only", nargs="+", choices=list(VARIANTS), help="run these variants only")
    a = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in VARIANTS.items():
            if a.only and name not in a.only:
                continue
            weights = os.path.join(tmp, "w.pt")
            print(f"== {name}", flush=True)
            train.run(train.options(width=a.width, blocks=a.blocks, steps=a.steps, val_every=a.steps,
                                    val_samples=1000, out=weights, **extra))
            res = proxy.score(weights, a.proxy_stride, tmp)
            res["old proxy"] = proxy.score_old(weights, a.proxy_stride, tmp)
            rows[name] = res
    groups = list(proxy.GROUPS)
    head = "".join(f"{g:>9}" for g in groups)
    print(f"\n{'variant (MPJPE mm)':<28}{'proxy gt':>9}{'noisy':>8}{head}{'old':>8}")
    for name, r in rows.items():
        print(f"{name:<28}{r['proxy']['gt']['mpjpe_mm']:9.1f}{r['proxy']['noisy']['mpjpe_mm']:8.1f}"
              + "".join(f"{r['groups'][g + ' gt']['mpjpe_mm']:9.1f}" for g in groups) + f"{r['old proxy']:8.1f}")
    settings = {"steps": a.steps, "width": a.width, "blocks": a.blocks, "proxy_stride": a.proxy_stride}
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
