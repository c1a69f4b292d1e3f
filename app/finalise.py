"""Finish an export directory from its poses.jsonl + meta.json (e.g. after a crash/kill):

    python -m app.finalise out/demo

writes poses.npz, poses.csv and one skeleton_<track id>.bvh per track next to them.
"""
import argparse
import sys

from .exports import finalise


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m app.finalise", description=__doc__.split("\n\n")[0])
    ap.add_argument("export_dir", help="directory holding poses.jsonl and meta.json")
    ap.add_argument("--bvh-lengths", choices=("median", "per-frame"),
                    help="BVH bone lengths (default: as recorded in meta.json, else median)")
    args = ap.parse_args(argv)
    try:
        result = finalise(args.export_dir, args.bvh_lengths)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"finalised {args.export_dir}: {result['frames']} frames -> {', '.join(result['files'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
