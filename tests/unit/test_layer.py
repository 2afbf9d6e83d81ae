"""What the unit layer promises about itself: CI runs the exact-planning property test with
at least 300 examples per combination (the ``ci`` Hypothesis profile, tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROPERTY = "tests.test_exact_revocation_property"
TEST = "test_grants_end_leaving_exactly_the_standing_access"


def examples_when(**env: str) -> int:
    """How many examples the property test asks for, imported as pytest would with ``env``."""
    script = (
        f"import tests.conftest, {PROPERTY} as m; "
        f"print(m.{TEST}._hypothesis_internal_use_settings.max_examples)"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(done.stdout.strip())


def test_ci_runs_the_exact_planning_property_with_at_least_300_examples():
    assert examples_when(CI="true") >= 300


def test_a_developer_run_keeps_the_property_at_150_examples():
    assert examples_when() == 150
