"""``python -m bot audit``: the audit trail as CSV or JSON, from nothing but the database."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.access.resources import Resource, ResourceKind, unit_for
from bot.access.states import State
from bot.audit import events_csv, main
from bot.clock import FakeClock, to_iso
from bot.store import Database, Store
from bot.store.audit import EVENT_COLUMNS, ReadOnlyDatabase, export_events, export_sql

REPO_ROOT = Path(__file__).resolve().parents[1]
ORG_ID = "1234567890"
PROD = Resource(ResourceKind.DEPLOYMENT, "a" * 32, "prod-search")
SIEM = Resource(ResourceKind.PROJECT, "c" * 32, "siem", "security")
ALICE, BOB = "U0ALICE01", "U0BOB0001"
#: Whole days back from now, so relative windows (``--since 30d``) are stable.
START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=20)


def _request(store: Store, clock: FakeClock, user: str, resource: Resource, why: str, *path):
    role = resource.roles()[0]
    request = store.create_request(
        requester_id=user,
        requester_email=f"{user.lower()}@example.com",
        resource=resource,
        role_id=role,
        unit=unit_for(resource, role, ORG_ID),
        duration=timedelta(hours=1),
        justification=why,
        approvers=["U0APPROVE"],
        approvals_needed=1,
        now=clock.now(),
        elastic_user_id="1000000001",
    )
    for target in path:
        clock.advance(timedelta(minutes=10))
        current = store.get(request.id).state
        assert store.transition(request.id, [current], target, now=clock.now(), actor=BOB)
    return request


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """Day 0: Alice on prod, approved and granted. Day 5: Bob on siem, denied. Day 12: a
    system event with no request. Day 15: Alice again (non-ASCII reason), pending."""
    path = tmp_path_factory.mktemp("audit") / "bot.db"
    db = Database(path)
    store = Store(db)
    store.migrate()
    clock = FakeClock(START)
    _request(store, clock, ALICE, PROD, "INC-42", State.APPROVED, State.GRANTING, State.ACTIVE)
    clock.advance(timedelta(days=5))
    _request(store, clock, BOB, SIEM, "=cmd|' /C calc'!A0", State.DENIED)
    clock.advance(timedelta(days=7))
    store.event(None, clock.now(), "system", "owner_unresolved", {"reference": "@sre"})
    clock.advance(timedelta(days=3))
    _request(store, clock, ALICE, PROD, "prüfen ✓ «naïve»")
    db.close()
    return path


def all_events(path: Path) -> list[dict]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM events ORDER BY at, id")]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The export as its own process, with no setting but what ``env`` gives."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    code = "import sys; from bot.audit import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env=base | (env or {}),
        capture_output=True,
        timeout=30,
        check=False,
    )


def run_main(capsys, monkeypatch, *args: str, database: Path | None = None):
    if database is not None:
        monkeypatch.setenv("DATABASE_PATH", str(database))
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


# -- as a separate process: only DATABASE_PATH, nothing of Slack or Elastic ----------------


def test_csv_to_stdout_with_only_database_path(prepared):
    done = cli("--since", "30d", "--format", "csv", env={"DATABASE_PATH": str(prepared)})
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("utf-8")
    assert text.splitlines()[0] == ",".join(EVENT_COLUMNS)
    rows = csv_rows(text)
    events = all_events(prepared)
    assert [int(r["id"]) for r in rows] == [e["id"] for e in events]
    assert [r["kind"] for r in rows] == [
        "requested",
        "approved",
        "granting",
        "active",
        "requested",
        "denied",
        "owner_unresolved",
        "requested",
    ]
    first = rows[0]
    assert first["actor"] == ALICE and first["requester_id"] == ALICE
    assert first["resource"] == PROD.key and first["resource_name"] == "prod-search"
    assert first["role"] == "deployment-viewer" and first["request_id"] == "1"
    assert json.loads(first["detail"])["justification"] == "INC-42"
    assert rows[4]["resource"] == SIEM.key  # project:security:<id>
    orphan = rows[6]
    assert orphan["request_id"] == orphan["requester_id"] == orphan["resource"] == ""
    assert json.loads(rows[-1]["detail"])["justification"] == "prüfen ✓ «naïve»"
    assert done.stderr == b""


def test_missing_database_is_one_clear_line_and_exit_2(tmp_path):
    missing = tmp_path / "nope" / "bot.db"
    done = cli("--since", "30d", env={"DATABASE_PATH": str(missing)})
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert lines == [f"audit: database not found: {missing} (set DATABASE_PATH or pass --database)"]
    assert done.stdout == b""
    assert not missing.exists() and not missing.parent.exists()  # nothing created


def test_json_to_a_file(prepared, tmp_path):
    target = tmp_path / "out" / "audit.json"
    target.parent.mkdir()
    done = cli(
        "--since", "30d", "--format", "json", "--output", str(target),
        "--database", str(prepared),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""
    assert done.stderr.decode().strip() == f"audit: wrote 8 events to {target}"
    items = json.loads(target.read_text(encoding="utf-8"))
    assert isinstance(items, list) and len(items) == 8
    assert all(list(item) == list(EVENT_COLUMNS) for item in items)
    assert items[0]["detail"]["justification"] == "INC-42"  # an object, not a string
    assert items[0]["request_id"] == 1 and items[6]["request_id"] is None
    assert [p.name for p in target.parent.iterdir()] == ["audit.json"]  # no partial file left


# -- in process: the options ------------------------------------------------------------------


def test_since_and_until_select_by_event_time(prepared, capsys, monkeypatch):
    day5 = (START + timedelta(days=5)).date().isoformat()
    day12 = START + timedelta(days=12)
    code, out, _ = run_main(
        capsys, monkeypatch, "--since", day5, "--until", day12.isoformat(), database=prepared
    )
    assert code == 0
    assert [r["kind"] for r in csv_rows(out)] == ["requested", "denied"]
    # until is exclusive for an instant, but a bare date includes its whole day.
    code, out, _ = run_main(
        capsys, monkeypatch, "--since", day5, "--until", day12.date().isoformat()
    )
    assert [r["kind"] for r in csv_rows(out)] == ["requested", "denied", "owner_unresolved"]
    code, out, _ = run_main(capsys, monkeypatch, "--since", "7d")
    assert [r["kind"] for r in csv_rows(out)] == ["requested"]
    code, out, _ = run_main(capsys, monkeypatch, "--since", "1d", "--format", "json")
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = run_main(capsys, monkeypatch, "--since", "1d")
    assert out.splitlines() == [",".join(EVENT_COLUMNS)]  # header even with no rows


def test_database_option_beats_the_environment(prepared, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "missing.db"))
    code, out, _ = run_main(capsys, monkeypatch, "--since", "30d", "--database", str(prepared))
    assert code == 0 and len(csv_rows(out)) == 8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "soon"], "audit: --since 'soon' is neither a duration nor a date"),
        (["--since", "30d", "--until", "2026-02-30"], "audit: --until '2026-02-30' is not a real"),
        (["--since", "1d", "--until", "2d"], "audit: --since must be before --until"),
    ],
)
def test_bad_times_exit_2(prepared, capsys, monkeypatch, args, message):
    code, out, err = run_main(capsys, monkeypatch, *args, database=prepared)
    assert code == 2 and out == ""
    assert err.startswith(message) and len(err.strip().splitlines()) == 1


def test_not_a_bot_database_exits_2(tmp_path, capsys, monkeypatch):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    code, _, err = run_main(capsys, monkeypatch, "--since", "1d", database=garbage)
    assert code == 2 and err.startswith(f"audit: cannot read {garbage}:")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("CREATE TABLE t (x)").connection.close()
    code, _, err = run_main(capsys, monkeypatch, "--since", "1d", database=empty)
    assert code == 2
    assert err.strip() == f"audit: {empty} is not an elastic-access-bot database (no events table)"


def test_missing_since_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "--since" in capsys.readouterr().err


def test_unwritable_output_exits_2(prepared, capsys, monkeypatch, tmp_path):
    target = tmp_path / "no-such-dir" / "audit.csv"
    code, _, err = run_main(
        capsys, monkeypatch, "--since", "30d", "--output", str(target), database=prepared
    )
    assert code == 2 and err.startswith(f"audit: cannot write {target}")


# -- the pieces the Slack edge reuses ---------------------------------------------------------


def test_events_csv_is_the_same_bytes_as_the_command(prepared, capsys, monkeypatch, tmp_path):
    target = tmp_path / "audit.csv"
    code, _, _ = run_main(
        capsys, monkeypatch, "--since", "30d", "--output", str(target), database=prepared
    )
    assert code == 0
    db = ReadOnlyDatabase(prepared)
    try:
        data = events_csv(export_events(db, START - timedelta(days=10)))
    finally:
        db.close()
    assert data == target.read_bytes()
    assert data.startswith(b"id,at,actor,") and b"\r\n" in data
    assert events_csv([]) == (",".join(EVENT_COLUMNS) + "\r\n").encode()


def test_export_streams_in_batches_and_can_be_scoped(prepared):
    db = ReadOnlyDatabase(prepared)
    try:
        stream = export_events(db, START, batch=2)
        assert iter(stream) is stream  # a generator: nothing is read up front
        first = next(stream)
        assert first["kind"] == "requested" and list(first) == list(EVENT_COLUMNS)
        assert isinstance(first["detail"], str)
        rest = list(stream)
        assert len(rest) == 7
        bobs = list(export_events(db, START, requester_id=BOB))
        assert [e["kind"] for e in bobs] == ["requested", "denied"]
        on_prod = list(export_events(db, START, resource_keys={PROD.key}))
        assert {e["request_id"] for e in on_prod} == {1, 3}
        assert list(export_events(db, START, resource_keys=set())) == []
        with pytest.raises(ValueError):
            list(export_events(db, START.replace(tzinfo=None)))
    finally:
        db.close()


def test_export_reads_the_index_in_order_without_sorting(prepared):
    db = ReadOnlyDatabase(prepared)
    try:
        sql, params = export_sql(START, START + timedelta(days=3))
        steps = [r["detail"] for r in db.query("EXPLAIN QUERY PLAN " + sql, params)]
    finally:
        db.close()
    assert any("events_at" in s for s in steps), steps
    assert not any("TEMP B-TREE" in s for s in steps), steps
    assert not any(s.startswith("SCAN e") for s in steps), steps


def test_the_export_never_writes(prepared):
    before = prepared.read_bytes()
    db = ReadOnlyDatabase(prepared)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.execute(
                "INSERT INTO events (at, actor, kind) VALUES (?, 'x', 'y')", (to_iso(START),)
            )
        assert len(list(export_events(db, START))) == 8
    finally:
        db.close()
    assert prepared.read_bytes() == before
