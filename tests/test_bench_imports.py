"""The benchmarks copy bot/ aside before importing it (``bench.common.snapshot_bot``), so a
run measures one version of the code even while the checkout changes: importing the suite's
modules must not import ``bot`` (it did once the Slack payloads moved into the package)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_importing_the_benchmark_suite_leaves_bot_unimported():
    code = (
        "import sys; import bench.run, bench.postgres, bench.experiments.revocation; "
        "print('bot' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
