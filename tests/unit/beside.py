"""The unit tests that live beside the end-to-end suite in ``tests/`` (their paths are named
in pyproject's mutmut settings and in the docs), run again from here so that
``pytest tests/unit`` is the whole unit layer.

Each ``tests/unit/test_beside_<name>.py`` borrows ``tests/test_<name>.py``'s tests and
fixtures; ``tests/unit/conftest.py`` skips it when the original is collected in the same
run (``pytest``, ``pytest tests``), so nothing runs twice."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
PREFIX = "test_beside_"


def original(path: Path) -> Path | None:
    """``tests/test_<name>.py`` for ``tests/unit/test_beside_<name>.py``, else None."""
    if not path.name.startswith(PREFIX):
        return None
    return TESTS / f"test_{path.name.removeprefix(PREFIX)}"


def borrow(module: str, namespace: dict[str, Any]) -> None:
    """Everything ``module`` defines (tests, fixtures, helpers) into ``namespace``."""
    found = importlib.import_module(module)
    namespace.update({k: v for k, v in vars(found).items() if not k.startswith("__")})
