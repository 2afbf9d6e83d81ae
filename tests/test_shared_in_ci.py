"""Without the shared folder, a developer's run skips only the published-spec checks (every
behaviour test still runs, the emulator on its own route table), and CI's run fails.

Each run is a child pytest pointed at a folder that does not exist, over one test of each
kind that needs the folder (a fixture, a module, a single test, and the fake Slack's own
fixtures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NEEDS_SHARED = [
    "tests/test_core_flow.py::test_request_approve_grant_expire[sqlite]",  # the `elastic` fixture
    "tests/test_elastic_emulator.py",  # skipped as a whole module
    "tests/test_assignments.py::test_every_body_conforms_to_the_published_spec",
    "tests/test_manifest.py::test_manifest_matches_the_slack_app_manifest_schema",
    "tests/test_fake_slack.py",
]


def _pytest_without_shared(tmp_path: Path, ci: str | None, *tests: str):
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["ELASTIC_ACCESS_SHARED"] = str(tmp_path / "no-shared-here")
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:randomly", *tests],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_bare_clone_skips_only_the_published_spec_checks(tmp_path):
    result = _pytest_without_shared(tmp_path, None, *NEEDS_SHARED[:4])
    assert result.returncode == 0, result.stdout[-2000:]
    skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skips) == 3, result.stdout[-2000:]  # the behaviour test ran
    assert all("ELASTIC_ACCESS_SHARED" in line for line in skips)  # each says how to fix it
    progress = result.stdout.splitlines()[0]
    assert progress.split("[")[0].count(".") == 1, result.stdout[-2000:]  # 1 passed


@pytest.mark.parametrize(
    "tests",
    [
        [NEEDS_SHARED[0], *NEEDS_SHARED[2:4]],  # fail as they run
        [NEEDS_SHARED[1]],  # fail as they are collected (which stops a run)
        [NEEDS_SHARED[4]],
    ],
    ids=["tests", "emulator-module", "fake-slack-module"],
)
def test_ci_fails_when_the_shared_folder_is_missing(tmp_path, tests):
    result = _pytest_without_shared(tmp_path, "true", "-rfE", *tests)
    assert result.returncode != 0, result.stdout[-2000:]
    assert "SKIPPED" not in result.stdout
    reported = [line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert len(reported) == len(tests), result.stdout[-2000:]
    assert "CI=true but" in result.stdout
