"""Measurement 3 alone, for trying fixes: ``python -m bench.experiments.revocation``.

    .venv/bin/python -m bench.experiments.revocation --grants 1000 [--restart]

(``BENCH_BOT_LAUNCHER=path/to/script.py`` runs a script of yours instead of ``-m bot``, to
profile the bot without editing it; see bench/common.py.)

Runs the bot (or, with ``--floor``, the floor revoker) on the same seeded grants as ``bench.run`` and prints
lateness (expiry runs) or process-start → DELETE (``--restart``) with the same statistics.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
import tempfile
from pathlib import Path

from bench import common as c


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grants", type=int, default=1000)
    parser.add_argument("--first", type=float, default=20.0, help="first expiry, s after seeding")
    parser.add_argument("--window", type=float, default=20.0, help="expiries spread over (s)")
    parser.add_argument("--restart", action="store_true", help="start on overdue grants")
    parser.add_argument("--floor", action="store_true", help="run the floor revoker instead")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="elastic-access-bench-revocation-"))
    c.snapshot_bot(work)
    import bench.generate_db
    import bench.run as run

    run.gen = bench.generate_db
    plan = dataclasses.replace(
        run.FULL, grants=args.grants, first_expiry=args.first, expiry_window=args.window
    )
    suite = run.Suite(plan, work, {3})
    try:
        result = suite._revocation_run("floor" if args.floor else "bot", args.restart)
    finally:
        suite.close()
        shutil.rmtree(work, ignore_errors=True)
    if args.restart:
        values = [
            result["done"].get(uid, math.inf) - result["spawn_wall"]
            for uid in run._uids(args.grants)
        ]
        print(f"spawn → ready {result['startup']:.1f}s")
        label = "process start → DELETE"
    else:
        values = result["late"]
        label = "lateness (expires_at → DELETE)"
    s = c.Summary.of(values)
    missing = sum(1 for v in values if math.isinf(v))
    finished = max(result["done"].values()) if result["done"] else math.nan
    print(
        f"{label}: median {s.median:.2f}s p99 {s.p99:.2f}s max {s.maximum:.2f}s; "
        f"not revoked {missing}; last DELETE {finished - result['first_expiry']:.1f}s after the "
        f"first expiry, {finished - result['ready_wall']:.1f}s after ready; process CPU per "
        f"grant {result['cpu'] / args.grants * 1000:.2f} ms ({result['cpu']:.2f} s in all); other CPU load "
        f"{result['other']:.2f} cores"
    )
    print("Elastic calls:", ", ".join(f"{k} {v}" for k, v in result["calls"].most_common()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
