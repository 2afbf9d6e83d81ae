"""Exports never hand a spreadsheet a formula: cells that would start one begin with ``'``.

Both ways out of the audit trail are covered: ``python -m bot audit --format csv`` and
``/elastic-access list export`` (the CSV file the bot uploads to the caller's DM).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from bot.access.resources import Resource, ResourceKind, unit_for
from bot.audit import csv_cell, main
from bot.clock import FakeClock
from bot.store import Database, Store
from tests.harness import OWNER, REQUESTER

HOSTILE_NAMES = [
    '=HYPERLINK("https://evil.example","open me")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("value", HOSTILE_NAMES)
def test_a_cell_that_starts_a_formula_gets_a_leading_quote(value):
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["prod-search", "INC-42", '{"a": "=1"}', "", 12, None])
def test_ordinary_cells_are_left_alone(value):
    assert csv_cell(value) == ("" if value is None else value)


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_audit_command_quotes_formula_cells(tmp_path, capsys, monkeypatch):
    path = tmp_path / "bot.db"
    db = Database(path)
    store = Store(db)
    store.migrate()
    clock = FakeClock(datetime.now(UTC) - timedelta(days=1))
    for i, name in enumerate(HOSTILE_NAMES):
        resource = Resource(ResourceKind.DEPLOYMENT, f"{i:x}" * 32, name)
        store.create_request(
            requester_id="U0ALICE01",
            requester_email="alice@example.com",
            resource=resource,
            role_id="deployment-viewer",
            unit=unit_for(resource, "deployment-viewer", "1234567890"),
            duration=timedelta(hours=1),
            justification="=1+1",
            approvers=["U0APPROVE"],
            approvals_needed=1,
            now=clock.now(),
            elastic_user_id="1000000001",
        )
    db.close()
    monkeypatch.setenv("DATABASE_PATH", str(path))
    assert main(["--since", "7d", "--format", "csv"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [r["resource_name"] for r in rows] == ["'" + n for n in HOSTILE_NAMES]
    assert all(r["detail"].startswith("{") for r in rows)  # JSON, never a formula


def test_list_export_in_slack_quotes_formula_cells(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER])
    name = HOSTILE_NAMES[0]
    elastic.add_deployment(name, deployment_id="f" * 32)
    bot.runtime.catalogue.refresh()
    bot.file_request(REQUESTER, "f" * 32, "deployment-viewer", timedelta(hours=1), "INC-7 =2+2")
    bot.command(REQUESTER, "list export")
    upload = slack.wait_for(lambda: slack.uploaded_files())[0]
    rows = _rows(upload["content"].decode())
    assert rows and {r["resource_name"] for r in rows} == {"'" + name}
    for row in rows:
        assert not any(str(v).startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())
