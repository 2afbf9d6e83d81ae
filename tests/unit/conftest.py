"""The unit layer's fixtures: a world of in-memory ports, and a guard that no test of the
core starts a thread (the core must be drivable on the test's own thread)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit import beside
from tests.unit.memory import World


@pytest.fixture
def world() -> Iterator[World]:
    before = set(threading.enumerate())
    made = World()
    yield made
    started = [t.name for t in threading.enumerate() if t not in before]
    assert started == [], f"the core started threads in a unit test: {started}"


@pytest.fixture
def make_world() -> Iterator[type[World]]:
    """``make_world(rules=[...], **policy)`` for a world with its own policy."""
    before = set(threading.enumerate())
    yield World
    started = [t.name for t in threading.enumerate() if t not in before]
    assert started == [], f"the core started threads in a unit test: {started}"


def _covers(arg: str, path: Path, base: Path) -> bool:
    target = (base / arg.split("::", 1)[0]).resolve()
    return target == path or target in path.parents


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip ``test_beside_<name>.py`` when this run collects ``tests/test_<name>.py`` itself."""
    original = beside.original(collection_path)
    if original is None:
        return None
    base = config.invocation_params.dir
    if any(_covers(arg, original, base) for arg in config.args):
        return True
    return None
