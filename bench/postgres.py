"""The PostgreSQL measurements of ``python -m bench.run`` (issue #16): numbers 7 and 8.

7. Two bot processes on one PostgreSQL database revoke grants expiring together: lateness
   (``expires_at`` → the DELETE at the Elastic emulator), then the same with one process
   SIGKILLed at the first expiry: everything revoked within 30 s of the first expiry, and no
   role removed twice.
8. The same bot on PostgreSQL next to SQLite: ``list`` on the big generated database (copied
   into PostgreSQL with ``python -m bot migrate-to-postgres``), and the ``request`` / Approve
   acks at 1 and 10 concurrent on fresh databases.

A throwaway PostgreSQL server (``fakes/throwaway_postgres.py``) is started once for the run,
each measurement gets its own database on it, and the server is stopped at the end. The bots
run with the production defaults (``CLAIM_INTERVAL`` 2 s, ``WORK_LEASE`` 20 s).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

import bench.run as r
from bench import common as c
from fakes import throwaway_postgres

#: Report sections that belong to the PostgreSQL part of docs/benchmarks.md.
SECTIONS = {
    "7": "Two processes on PostgreSQL: revocation",
    "8": "PostgreSQL next to SQLite",
}
#: Requester numbers of the seeded grants (bench.generate_db users), apart from the ones
#: measurement 3 uses, so each run's people and their Slack DMs are new.
REQUESTER_BASE = {"expiry": 100_000, "kill": 200_000}
#: The kill comes this long after the first expiry: the victim is then revoking the first
#: grants (timers fire at the expiry; both processes race for each row).
KILL_AFTER = 0.5


class ServerCpuWatch(r.CpuWatch):
    """CpuWatch that also counts the PostgreSQL server (a daemon, not our child) as ours."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        super().__init__()
        self.start_server = self.server_ticks()

    def _snap(self) -> tuple[float, int, int]:
        t, busy, own = super()._snap()
        return t, busy, own + self.server_ticks()

    def server_ticks(self) -> int:
        if not self.server_pid:
            return 0
        return sum(r._ticks(p) for p in r._tree(self.server_pid))


class Postgres:
    """Measurements 7 and 8, run by bench.run's Suite (its fakes, plan and report)."""

    def __init__(self, suite: r.Suite) -> None:
        self.suite = suite
        self.server: throwaway_postgres.Server | None = None
        self.failed = ""

    # -- the server ------------------------------------------------------------------------
    def start(self) -> bool:
        if self.server is not None or self.failed:
            return self.server is not None
        try:
            self.server = throwaway_postgres.start()
        except RuntimeError as exc:
            self.failed = str(exc)
            self.suite.report.notes.append(f"PostgreSQL measurements skipped: {exc}")
            print(f"  PostgreSQL measurements skipped: {exc}", flush=True)
            return False
        with psycopg.connect(self.server.url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        self.suite.report.machine["postgresql"] = version.split()[0]
        self.suite.report.machine["psycopg"] = psycopg.__version__
        return True

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def server_pid(self) -> int | None:
        if self.server is None:
            return None
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid_file = self.server.directory / "data" / "postmaster.pid"
            return int(pid_file.read_text().split()[0])
        return None

    def watch(self) -> ServerCpuWatch:
        return ServerCpuWatch(self.server_pid())

    def database(self, name: str) -> str:
        """A new, empty database on the server; returns its URL."""
        assert self.server is not None
        with psycopg.connect(self.server.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        return self.server.url.rsplit("/", 1)[0] + "/" + name

    def copy(self, source: Path, url: str) -> float:
        """``python -m bot migrate-to-postgres`` (the documented way in); returns seconds."""
        began = time.monotonic()
        done = subprocess.run(
            [c.PYTHON, "-m", "bot", "migrate-to-postgres", "--from", str(source), "--to", url],
            cwd=c.SRC,
            env=c.clean_env(),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"migrate-to-postgres failed: {done.stderr[-1500:]}")
        return time.monotonic() - began

    def spawn(self, name: str, url: str, elastic_url: str) -> c.Server:
        return c.spawn_bot(
            name,
            self.suite.work,
            database=self.suite.work / f"{name}.unused.db",
            slack_api_url=self.suite.slack.api_url,
            elastic_url=elastic_url,
            DATABASE_URL=url,
        )

    # -- 7: two processes revoke ------------------------------------------------------------
    def revocation(self) -> None:
        if not self.start():
            return
        plan = self.suite.plan
        print(f"== PostgreSQL, 2 processes: revocation of {plan.grants} grants", flush=True)
        for kill in (False, True):
            self._revocation_row(self._revocation_run(kill), kill)

    def _revocation_run(self, kill: bool) -> dict[str, Any]:
        s, plan, gen = self.suite, self.suite.plan, r.gen
        tag = "kill" if kill else "expiry"
        base = REQUESTER_BASE[tag]
        emulator = r.new_emulator()
        deployments = [emulator.add_deployment(f"revoke-target-{j:02d}") for j in range(50)]
        later = datetime.now(UTC) + timedelta(days=1)  # moved to the real expiries below
        grants = []
        for k in range(plan.grants):
            person = base + k
            dep = deployments[k % len(deployments)]
            emulator.add_member(
                gen.user_email(person),
                user_id=gen.elastic_user_id(person),
                role_assignments=r.role(dep),
            )
            s.slack.add_user(
                gen.user_id(person), email=gen.user_email(person), name=f"user{person}"
            )
            grants.append(
                gen.Grant(
                    requester=person,
                    deployment=dep,
                    deployment_name=f"revoke-target-{k % len(deployments):02d}",
                    role="deployment-viewer",
                    granted_at=later - timedelta(days=1, hours=1),
                    expires_at=later + timedelta(seconds=k),
                )
            )
        path = s.work / f"pg-revoke-{tag}.db"
        with contextlib.suppress(OSError):
            path.unlink()
        ids = gen.seed_grants(path, grants)
        url = self.database(f"revoke_{tag}")
        copied = self.copy(path, url)
        s.idle()
        # Expiries count from now, as in measurement 3 they count from the seeding.
        now = datetime.now(UTC)
        expiry: dict[str, float] = {}
        moves = []
        for k, (request_id, g) in enumerate(zip(ids, grants, strict=True)):
            spread = plan.expiry_window * k / max(1, plan.grants - 1)
            expires = now + timedelta(seconds=plan.pg_first_expiry + spread)
            expiry[gen.elastic_user_id(g.requester)] = expires.timestamp()
            moves.append((gen.to_iso(expires), request_id))
        with psycopg.connect(url) as conn, conn.cursor() as cursor:
            cursor.executemany("UPDATE requests SET expires_at = %s WHERE id = %s", moves)
        first_expiry, last_expiry = min(expiry.values()), max(expiry.values())
        deadline = max(time.time(), last_expiry) + (90 if plan.name == "full" else 45)
        offset = c.wall_offset()
        watch = self.watch()
        servers = [self.spawn(f"bot-pg-{tag}-{n}", url, emulator.url) for n in ("a", "b")]
        leases: dict[str, int] = {}
        killed_at = math.nan
        cpu = math.nan
        try:
            for server in servers:
                server.wait_ready(timeout=120)
            ready_wall = max(server.ready_at for server in servers) + offset
            if kill:
                time.sleep(max(0.0, first_expiry + KILL_AFTER - time.time()))
                leases = self._leases(url)
                victim = servers[0]
                for pid in (victim.worker_pid(), victim.proc.pid):
                    if pid:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                killed_at = time.time()
                victim.proc.wait(timeout=10)
            while time.time() < deadline:
                deletes = emulator.calls_to("DELETE", "/role_assignments")
                if len({d["path"] for d in deletes}) >= plan.grants:
                    break
                time.sleep(0.2)
            # Two more claim rounds and a lease renewal of the survivors: a second DELETE
            # or a second "expired" DM would show up now.
            time.sleep(6.0 if plan.name == "full" else 4.0)
            cpu = sum(r.server_cpu(server) for server in servers)
        finally:
            for server in servers:
                server.stop()
        other = watch.other_cores()
        pg_cpu = (watch.server_ticks() - watch.start_server) / r.CpuWatch.HZ
        done: dict[str, float] = {}
        per_unit: Counter[tuple[str, str]] = Counter()
        for call in emulator.calls_to("DELETE", "/role_assignments"):
            uid = call["path"].split("/users/", 1)[1].split("/", 1)[0]
            done.setdefault(uid, call["time"] + offset)
            for entry in (call["body"] or {}).get("deployment", []):
                for dep in entry.get("deployment_ids", []):
                    per_unit[(uid, f"{entry.get('role_id')}|{dep}")] += 1
        emulator.stop()
        told: Counter[int] = Counter()
        from bot.standins.slack.text import text_of

        for g in grants:
            messages = s.slack.messages_to(gen.user_id(g.requester))
            told[sum("Access expired" in text_of(m) for m in messages)] += 1
        with psycopg.connect(url) as conn:
            states = dict(conn.execute("SELECT state, count(*) FROM requests GROUP BY state"))
        with contextlib.suppress(OSError):
            path.unlink()
        return {
            "late": [done.get(uid, math.inf) - at for uid, at in expiry.items()],
            "done": done,
            "first_expiry": first_expiry,
            "ready_before_expiry": first_expiry - ready_wall,
            "duplicates": sum(n - 1 for n in per_unit.values() if n > 1),
            "deletes": sum(per_unit.values()),
            "told": dict(told),
            "leases": leases,
            "killed_after": killed_at - first_expiry,
            "states": states,
            "cpu": cpu,
            "pg_cpu": pg_cpu,
            "copied": copied,
            "other": other,
        }

    @staticmethod
    def _leases(url: str) -> dict[str, int]:
        """Live leases by owner, at this moment."""
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT lease_owner, count(*) FROM requests WHERE lease_owner IS NOT NULL "
                "GROUP BY lease_owner ORDER BY lease_owner"
            ).fetchall()
        return {owner: n for owner, n in rows}

    def _revocation_row(self, res: dict[str, Any], kill: bool) -> None:
        plan = self.suite.plan
        missing = sum(1 for x in res["late"] if math.isinf(x))
        finished = max(res["done"].values()) if res["done"] else math.inf
        within = finished - res["first_expiry"]
        summary = c.Summary.of(res["late"], missing)
        dup = res["duplicates"]
        told_twice = sum(n for times, n in res["told"].items() if times > 1)
        note = (
            f"{plan.grants} grants expiring {plan.pg_first_expiry:.0f}–"
            f"{plan.pg_first_expiry + plan.expiry_window:.0f}s after their expiries were set "
            f"(both processes ready {res['ready_before_expiry']:.1f}s before the first); "
            f"last DELETE {within:.1f}s after the first expiry; {res['deletes']} DELETEs at "
            f"the emulator, {dup} duplicate(s); people told “Access expired” "
            + ", ".join(f"{times}×: {n}" for times, n in sorted(res["told"].items()))
            + f"; bot CPU per grant {res['cpu'] / plan.grants * 1000:.0f} ms (both processes), "
            f"PostgreSQL server CPU {res['pg_cpu']:.1f} s in all"
        )
        if kill:
            held = sum(res["leases"].values())
            note += (
                f"; process a SIGKILLed (arbiter and worker) {res['killed_after']:.2f}s after "
                f"the first expiry, when {held} row(s) were under lease (by "
                f"{len(res['leases'])} process(es)); the latest DELETE was "
                f"{summary.maximum:.1f}s after its expires_at"
            )
        if missing:
            note += f"; **{missing} not revoked by the deadline**"
        note += "; rows: " + ", ".join(f"{k} {v}" for k, v in sorted(res["states"].items()))
        if kill:
            name = (
                f"2 processes, one SIGKILLed at the first expiry: {plan.grants} grants "
                "(expires_at → DELETE)"
            )
            target = "all revoked ≤ 30 s after the first expiry; zero duplicate DELETEs"
            ok = not missing and within <= 30 and dup == 0
        else:
            name = f"2 processes, {plan.grants} grants expiring together (expires_at → DELETE)"
            target = "p99 < 2 s; zero duplicate DELETEs"
            ok = not missing and summary.p99 < 2.0 and dup == 0
        ok = ok and not told_twice
        self.suite.report.add(
            r.Row(
                "7",
                name,
                summary,
                None,
                "—",
                target,
                r.verdict(ok),
                unit="s",
                note=note,
                other_load=res["other"],
            )
        )

    # -- 8: PostgreSQL next to SQLite --------------------------------------------------------
    def compare(self) -> None:
        if not self.start():
            return
        self.big_list()
        self.acks()

    def big_list(self) -> None:
        s, plan = self.suite, self.suite.plan
        print(f"== list on {plan.list_requests:,} requests: PostgreSQL next to SQLite", flush=True)
        path = s.work / "pg-big.db"
        built = r.gen.generate(path, requests=plan.list_requests, events=plan.list_events)
        url = self.database("biglist")
        copied = self.copy(path, url)
        s.report.notes.append(
            f"PostgreSQL: the {plan.list_requests:,}-request / {plan.list_events:,}-event "
            f"database ({built['bytes'] / 1e6:.0f} MB as SQLite, built in {built['seconds']:.1f}s) "
            f"was copied in by `python -m bot migrate-to-postgres` in {copied:.1f}s."
        )
        requesters = r._busiest_requesters(path, 50)
        sqlite_bot = c.spawn_bot(
            "bot-biglist-sqlite",
            s.work,
            database=path,
            slack_api_url=s.slack.api_url,
            elastic_url=s.emulator.url,
        )
        pg_bot = self.spawn("bot-biglist-pg", url, s.emulator.url)
        try:
            ready = [sqlite_bot.wait_ready(timeout=120), pg_bot.wait_ready(timeout=120)]
            s.report.notes.append(
                f"PostgreSQL: on the big database the bot was ready in {ready[1]:.1f}s "
                f"(SQLite {ready[0]:.1f}s)."
            )
            s.quiet()
            s.reset_fakes()
            for who in ("owner", "requester"):
                for conc, n in plan.list_counts.items():
                    if who == "owner":
                        users = [c.OWNER] * n
                    else:
                        users = [requesters[i % len(requesters)] for i in range(n)]
                    label = (
                        f"integration owner (all of {plan.list_requests:,} requests)"
                        if who == "owner"
                        else f"requester (own, of {plan.list_requests:,})"
                    )
                    self._side_by_side(
                        f"`list` ack, {label}, {conc} concurrent",
                        "p99 < 150 ms",
                        0.150,
                        conc,
                        lambda server, users=users: [
                            c.command_body(u, "list", s.url("pgl")) for u in users
                        ],
                        pg_bot,
                        sqlite_bot,
                        expect="request",
                    )
        finally:
            pg_bot.stop()
            sqlite_bot.stop()
            with contextlib.suppress(OSError):
                path.unlink()

    def acks(self) -> None:
        s, plan = self.suite, self.suite.plan
        print("== request / Approve acks: PostgreSQL next to SQLite", flush=True)
        path = s.work / "pg-compare-sqlite.db"
        url = self.database("interactive")
        sqlite_bot = c.spawn_bot(
            "bot-acks-sqlite",
            s.work,
            database=path,
            slack_api_url=s.slack.api_url,
            elastic_url=s.emulator.url,
        )
        pg_bot = self.spawn("bot-acks-pg", url, s.emulator.url)
        pending: dict[str, Any] = {}

        def approvals(server: c.Server, n: int) -> list[str]:
            return s._ack_items("approve", n, pending[server.name])

        try:
            sqlite_bot.wait_ready(timeout=120)
            pg_bot.wait_ready(timeout=120)
            s.quiet()
            s.reset_fakes()
            counts = {conc: n for conc, n in plan.ack_counts.items() if conc in (1, 10)}
            for conc, n in counts.items():
                self._side_by_side(
                    f"`request …` (text form) ack, {conc} concurrent",
                    "p99 < 100 ms" if conc == 10 else "p99 ≤ 1.5× SQLite",
                    0.100 if conc == 10 else None,
                    conc,
                    lambda server, n=n: s._ack_items("request", n, None),
                    pg_bot,
                    sqlite_bot,
                    drain=True,
                )
            # (Should a request have been refused, clicks on unknown ids still get an ack.)
            for server, ids in (
                (sqlite_bot, r._pending_ids(path, s.requesters)),
                (pg_bot, self._pending_ids(url, s.requesters)),
            ):
                pending[server.name] = itertools.chain(ids, itertools.count(900_000))
            for conc, n in counts.items():
                self._side_by_side(
                    f"Approve click ack, {conc} concurrent",
                    "p99 < 100 ms" if conc == 10 else "p99 ≤ 1.5× SQLite",
                    0.100 if conc == 10 else None,
                    conc,
                    lambda server, n=n: approvals(server, n),
                    pg_bot,
                    sqlite_bot,
                    drain=True,
                )
            with psycopg.connect(url) as conn:
                pg_states = dict(
                    conn.execute("SELECT state, count(*) FROM requests GROUP BY state")
                )
            s.report.notes.append(
                "PostgreSQL: after the ack rows the requests were: on PostgreSQL "
                + ", ".join(f"{k} {v}" for k, v in sorted(pg_states.items()))
                + "; on SQLite "
                + ", ".join(f"{k} {v}" for k, v in sorted(r._states(path).items()))
                + "."
            )
        finally:
            pg_bot.stop()
            sqlite_bot.stop()

    @staticmethod
    def _pending_ids(url: str, requesters: list[str]) -> list[int]:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT id FROM requests WHERE state = 'pending' AND requester_id = ANY(%s) "
                "ORDER BY id",
                (requesters,),
            ).fetchall()
        return [row[0] for row in rows]

    def _side_by_side(
        self,
        name: str,
        target: str,
        limit: float | None,
        conc: int,
        items: Any,
        pg_bot: c.Server,
        sqlite_bot: c.Server,
        *,
        expect: str = "",
        drain: bool = False,
    ) -> None:
        """The same load on the SQLite bot, then on the PostgreSQL bot; one row."""
        s = self.suite
        skip = max(10, conc)
        s.idle()
        watch = self.watch()
        runs: dict[str, dict[str, Any]] = {}
        for store, server in (("sqlite", sqlite_bot), ("pg", pg_bot)):
            cpu0 = r.server_cpu(server)
            pg0 = watch.server_ticks()
            batch = items(server)
            load = c.run_load(server.url, batch, concurrency=conc, keep_bodies=2)
            drained = s.quiet() if drain else 0.0
            runs[store] = {
                "summary": c.Summary.of(load.ok_latencies(skip), load.errors(skip)),
                "cpu": (r.server_cpu(server) - cpu0) / len(batch),
                "pg_cpu": (watch.server_ticks() - pg0) / r.CpuWatch.HZ / len(batch),
                "body": load.bodies[-1] if load.bodies else "",
                "drained": drained,
            }
            s.reset_fakes()
        other = watch.other_cores()
        pg, lite = runs["pg"]["summary"], runs["sqlite"]["summary"]
        ok = not pg.errors and (pg.p99 < limit if limit else pg.p99 <= 1.5 * lite.p99)
        note = (
            f"{pg.n} acks each ({skip} warm-up dropped); bot CPU per request "
            f"{runs['pg']['cpu'] * 1000:.1f} ms on PostgreSQL + {runs['pg']['pg_cpu'] * 1000:.1f} ms "
            f"in the PostgreSQL server (SQLite {runs['sqlite']['cpu'] * 1000:.1f} ms)"
        )
        if drain:
            note += (
                f"; background work drained {runs['pg']['drained']:.1f}s after the last ack "
                f"(SQLite {runs['sqlite']['drained']:.1f}s)"
            )
        for label, store in (("PostgreSQL", "pg"), ("SQLite", "sqlite")):
            summary, body = runs[store]["summary"], runs[store]["body"]
            if summary.errors:
                note += f"; {summary.errors} non-200 answers on {label}"
            if expect and expect not in body:
                note += f"; unexpected answer on {label}: {body[:80]!r}"
        s.report.add(
            r.Row(
                "8",
                name,
                pg,
                lite,
                "the same bot on SQLite (same data, same load, right before)",
                target,
                r.verdict(ok),
                note=note,
                other_load=other,
            )
        )


# ------------------------------------------------------------------------ the report


def render_section(report: r.Report) -> str:
    """The "PostgreSQL" section of docs/benchmarks.md (measurements 7 and 8)."""
    rows = [row for row in report.rows if row.section in SECTIONS]
    m = report.machine
    lines = [
        "## PostgreSQL",
        "",
        f"Generated by `python -m bench.run{' --quick' if report.plan.name == 'quick' else ''}"
        f"{' --only ' + ','.join(str(n) for n in sorted(report.only)) if report.only else ''}` on "
        f"{report.started:%Y-%m-%d %H:%M} UTC ({report.plan.name} mode) on "
        f"{m['cpus']} × {m['cpu']}, {m['memory']}; PostgreSQL {m.get('postgresql', '?')} "
        f"(a throwaway local server from `fakes/throwaway_postgres.py`: fsync off, on the same "
        f"2 CPUs as everything else), psycopg {m.get('psycopg', '?')}; commit {m['commit']}. "
        "Times are **median / p99**; *ratio* is PostgreSQL ÷ SQLite.",
        "",
        "| # | measurement | PostgreSQL | SQLite | ratio | target | result | other CPU load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        other = f"{row.other_load:.2f} cores" if row.other_load is not None else "—"
        lines.append(
            f"| {row.section} | {row.name} | {r._fmt(row.bot, row.unit)} | "
            f"{r._fmt(row.base, row.unit)} | {row.ratio} | {row.target} | {row.verdict} | {other} |"
        )
    if not rows:
        lines.append("| | not measured in this run | | | | | | |")
    lines += ["", "### Per-row details", ""]
    for row in rows:
        lines.append(f"- **{row.section}. {row.name}** — {row.note}.")
    notes = [n for n in report.notes if n.startswith("PostgreSQL")]
    lines += [f"- {n}" for n in notes]
    lines += ["", *PG_METHOD.splitlines()]
    return "\n".join(lines) + "\n"


PG_METHOD = """### How these were measured

- **7.** 1,000 ACTIVE grants are seeded as in measurement 3 (`bench/generate_db.seed_grants`
  into a SQLite file, then `python -m bot migrate-to-postgres` into a fresh PostgreSQL
  database); their `expires_at` are then set to 20–40 s from now (quick: the plan's window)
  and two `python -m bot run --mode http` processes start on that database with the
  production defaults (`CLAIM_INTERVAL` 2 s, `WORK_LEASE` 20 s, `SWEEP_INTERVAL` as
  configured). Lateness is the emulator's DELETE arrival minus `expires_at`. In the second
  row, 0.5 s after the first expiry (while both processes are revoking the first grants)
  the gunicorn arbiter and the worker of process *a* get SIGKILL; the survivor must take
  over the rows *a* held under lease once the leases run out (20 s), and *a*'s share of
  the later grants. Duplicates are counted at the emulator
  per member and unit (role + deployment) from the DELETE bodies, after waiting a few more
  claim rounds; the “Access expired” DMs are counted per person at the fake Slack.
- **8.** The `list` rows use the database of measurement 4 (`bench/generate_db.py`, 100,000
  requests / 1,000,000 events, hash-chained), the same file for SQLite and, copied with
  `migrate-to-postgres`, for PostgreSQL. Both bots run at once on the same fakes; each load
  goes to the SQLite bot first, then to the PostgreSQL bot, in one row. The `request` and
  Approve rows start both bots on empty databases; Approve clicks approve the requests the
  `request` rows filed on the same store. *Other CPU load* excludes the PostgreSQL server
  (its CPU is counted as the benchmark's own and shown per request in the details).
- **Caveats.** The PostgreSQL server runs on the same 2 CPUs as the bots, the load generator
  and the fakes, with `fsync=off` (a throwaway server): a managed PostgreSQL adds a network
  round trip per query and durable commits. Other agents may be running tests on this
  machine: the *other CPU load* column says how many cores they kept busy during each row.

Reproduce: `.venv/bin/python -m bench.run --only 7,8` (about 6 minutes; rewrites only this
section of docs/benchmarks.md), or `--quick --only 7,8 --output /tmp/pg.md` for a quick look.
Needs PostgreSQL's server binaries (Debian's `postgresql-15`; installed with `apt-get` when
missing and running as root).
"""


def splice(document: str, section: str) -> str:
    """Put ``section`` into ``document`` in place of its PostgreSQL section, or before Method."""
    start = document.find("\n## PostgreSQL\n")
    if start != -1:
        end = document.find("\n## ", start + 1)
        end = len(document) if end == -1 else end
        return document[: start + 1] + section + document[end:]
    at = document.find("\n## Method\n")
    if at == -1:
        return document.rstrip("\n") + "\n\n" + section
    return document[: at + 1] + section + "\n" + document[at + 1 :]
