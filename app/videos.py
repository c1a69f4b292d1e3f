"""The videos of a batch: which files INPUTS name, where each one's export goes, and
whether an export already there is complete."""
import glob
import hashlib
import json
from pathlib import Path

import cv2

VIDEO_EXTS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".mts", ".ts")
SUMMARY = "summary.json"  # written last by app.cli.run_source: its presence marks a finished export
JSONL = "poses.jsonl"


def is_video(path):
    return path.suffix.lower() in VIDEO_EXTS


def find_videos(inputs):
    """INPUTS (video files, folders searched recursively by extension, glob patterns)
    -> sorted unique resolved paths. A file named explicitly is taken whatever its
    extension (a damaged or odd one fails later, as that video's error)."""
    found = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            hits = [p for p in path.rglob("*") if p.is_file() and is_video(p)]
            if not hits:
                raise ValueError(f"input {item}: folder holds no videos ({' '.join(VIDEO_EXTS)})")
        elif path.is_file():
            hits = [path]
        else:
            hits = [Path(p) for p in glob.glob(str(item), recursive=True) if Path(p).is_file() and is_video(Path(p))]
            if not hits:
                raise ValueError(f"input {item}: no such file or folder, and no video matches it as a pattern")
        found.update(p.resolve() for p in hits)
    return sorted(found)


def export_names(videos):
    """{video path: export folder name}: the file's stem, plus a short hash of its path when
    two videos share a stem, so names stay the same from one run to the next (resume)."""
    stems = [v.stem for v in videos]
    return {v: v.stem if stems.count(v.stem) == 1 else f"{v.stem}-{hashlib.sha1(str(v).encode()).hexdigest()[:8]}"
            for v in videos}


def frame_count(video, max_frames=None):
    """Frames the container announces (0 when it cannot be opened), capped by max_frames."""
    cap = cv2.VideoCapture(str(video))
    count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0) if cap.isOpened() else 0
    cap.release()
    return min(count, max_frames) if max_frames else count


def lines_written(export_dir):
    """Frames in export_dir/poses.jsonl so far (0 when absent): progress of a running video."""
    try:
        with open(Path(export_dir) / JSONL, "rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    except OSError:
        return 0


def finished_summary(export_dir, render_video=False):
    """The summary of a complete export in export_dir, else None. Complete: summary.json
    parses, every file it lists exists (overlay.mp4 too when render_video), poses.jsonl
    has one line per frame it counts, and somebody was found."""
    export_dir = Path(export_dir)
    try:
        summary = json.loads((export_dir / SUMMARY).read_text())
        files = list(summary["exports"]) + (["overlay.mp4"] if render_video else [])
        complete = (all((export_dir / f).is_file() for f in files) and summary["frames_with_people"] > 0
                    and lines_written(export_dir) == summary["frames"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return summary if complete else None
