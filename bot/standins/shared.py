"""Where the shared reference folder (published specs, Slack fixtures) is, for the fakes.

Used by the tests and the benchmarks alike; only :func:`missing_shared` is pytest-only, and it
imports pytest when called so the benchmarks do not need it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

_REPO_ROOT = Path(__file__).resolve().parents[2]

ELASTIC_SPEC_FILES = ("apidocs-user.json", "serverless-project-api-dereferenced.yml")


def shared_dir() -> Path | None:
    """Return the shared reference folder, or None when this checkout has none.

    Why: the published API specs and fixtures live outside the repository (they are not
    ours to redistribute), so tests that need them must skip cleanly when they are absent.
    Override the location with ``ELASTIC_ACCESS_SHARED``.
    """
    root = Path(os.environ.get("ELASTIC_ACCESS_SHARED", _REPO_ROOT.parent / "shared"))
    return root if root.is_dir() else None


def in_ci() -> bool:
    """Whether this run is CI's (``CI=true``, as GitHub Actions and most others set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing_shared(what: str) -> NoReturn:
    """Skip a test that needs ``what`` from the shared folder; in CI, fail it instead.

    Why: on a developer's bare clone a skip is the honest answer, but a CI run that skips
    every published-spec check would pass while checking much less than it claims."""
    import pytest

    message = f"{what} is not in the shared folder (set ELASTIC_ACCESS_SHARED; default ../shared)"
    if in_ci():
        pytest.fail(f"CI=true but {message}: CI must run the published-spec checks", pytrace=False)
    pytest.skip(message)


def elastic_spec_dir() -> Path | None:
    """Return ``<shared>/elastic-cloud-api`` if both published Elastic specs are there."""
    root = shared_dir()
    if root is None:
        return None
    spec_dir = root / "elastic-cloud-api"
    if all((spec_dir / name).is_file() for name in ELASTIC_SPEC_FILES):
        return spec_dir
    return None
