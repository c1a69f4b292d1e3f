"""Shared test fixtures: paths to ../shared (read in place, never copied)."""
import pytest

from lifter.config import shared_dir

SHARED = shared_dir()  # ../shared beside the repository, or $POSE_SHARED


@pytest.fixture(scope="session")
def shared():
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: the tests read the real data and media from ../shared")
    return SHARED
