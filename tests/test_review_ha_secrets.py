"""Review of issue #16: the DATABASE_URL password must never be printed.

libpq echoes what it cannot parse: a password with a bare ``%`` (``invalid percent-encoded
token: "<password>"``) or a URL with an unclosed ``[`` (the whole URI, password included).
``run``/``worker`` logs pass through the redactor; ``check``, ``audit`` and
``migrate-to-postgres`` take the URL's secret parts out of the messages they print
(``bot.store.postgres.scrub``).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.store import Database, Store
from tests.process import REPO_ROOT

PASSWORD = "Hunter2%zzSecret"  # a generated password with a bare '%', pasted as it is
URLS = [
    f"postgresql://bot:{PASSWORD}@127.0.0.1:1/access",
    f"postgresql://bot:{PASSWORD.replace('%', '')}@[::1/access",  # a typo'd IPv6 host
]


def _run(tmp_path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    env["DATABASE_URL"] = url
    env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("url", URLS, ids=["bare-percent", "unclosed-bracket"])
def test_review_ha_audit_never_prints_the_database_password(tmp_path, url):
    done = _run(tmp_path, url, "audit", "--verify")
    assert done.returncode == 2, done.stderr
    secret = url.split(":", 2)[2].split("@")[0]
    assert secret not in done.stdout + done.stderr, done.stderr


@pytest.mark.parametrize("url", URLS, ids=["bare-percent", "unclosed-bracket"])
def test_review_ha_migrate_to_postgres_never_prints_the_database_password(tmp_path, url):
    Store(Database(tmp_path / "source.db")).migrate()
    done = _run(tmp_path, url, "migrate-to-postgres", "--from", str(tmp_path / "source.db"))
    assert done.returncode != 0, done.stderr
    secret = url.split(":", 2)[2].split("@")[0]
    assert secret not in done.stdout + done.stderr, done.stderr
