"""Run the benchmark suite and write docs/benchmarks.md: ``python -m bench.run [--quick]``.

Every measurement runs the bot and its baseline (the floor of the bot's own stack) in the
same run, on 127.0.0.1 only, with bounded request counts and time. See docs/benchmarks.md
for what each number means; ``--only 1,4`` runs a subset (the report then shows only those).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import common as c

#: bench.generate_db, imported in main() once the bot/ snapshot is first on sys.path.
gen: Any = None

# ------------------------------------------------------------------------ plans


@dataclass(frozen=True)
class Plan:
    name: str
    ack_counts: dict[int, int]  # concurrency -> requests per level (1.)
    click_to_post: int  # approvals (2.)
    click_interval: float
    grants: int  # expiring together (3.)
    first_expiry: float  # seconds after seeding
    expiry_window: float  # expiries spread evenly over this many seconds
    overdue: tuple[float, float]  # overdue grants expired this many seconds ago (3b.)
    list_requests: int  # rows in the big database (4.)
    list_events: int
    list_counts: dict[int, int]
    sql_iterations: int
    startup_grants: int  # active grants at start-up (5.)
    startup_history: int
    startup_events: int
    startup_runs: int
    deployments: int  # catalogue size (6.)
    options_counts: dict[int, int]
    pg_first_expiry: float = 20.0  # seconds from setting the expiries (7.; two starts)
    quiet: float = 1.5  # fakes idle this long = the bot's background work is done
    settle: float = 5.0  # seconds after ready before reading RSS


FULL = Plan(
    name="full",
    ack_counts={1: 600, 10: 600, 50: 1000},  # p99 of 1 client from enough samples
    click_to_post=100,
    click_interval=0.3,
    grants=1000,
    first_expiry=20.0,
    expiry_window=20.0,
    overdue=(30.0, 180.0),
    list_requests=100_000,
    list_events=1_000_000,
    list_counts={1: 300, 10: 600},
    sql_iterations=2000,
    startup_grants=10_000,
    startup_history=10_000,
    startup_events=100_000,
    startup_runs=3,
    deployments=5000,
    options_counts={1: 400, 10: 800},
)

QUICK = Plan(
    name="quick",
    ack_counts={1: 25, 10: 70, 50: 150},
    click_to_post=15,
    click_interval=0.2,
    grants=150,
    first_expiry=5.0,
    expiry_window=3.0,
    overdue=(30.0, 120.0),
    list_requests=10_000,
    list_events=100_000,
    list_counts={1: 60, 10: 120},
    sql_iterations=500,
    startup_grants=10_000,
    startup_history=2_000,
    startup_events=20_000,
    startup_runs=1,
    deployments=5000,
    options_counts={1: 80, 10: 150},
    pg_first_expiry=10.0,
    quiet=1.0,
    settle=2.0,
)

# ------------------------------------------------------------------------ results


@dataclass
class Row:
    section: str
    name: str
    bot: c.Summary
    base: c.Summary | None
    base_label: str
    target: str
    verdict: str  # pass | miss | info
    unit: str = "ms"
    note: str = ""
    other_load: float | None = None  # CPU cores busy outside the benchmark meanwhile

    @property
    def ratio(self) -> str:
        if self.base is None or not self.base.p99 or math.isnan(self.base.p99):
            return "—"
        if math.isinf(self.bot.p99):
            return "∞"
        return f"{self.bot.median / self.base.median:.1f}× / {self.bot.p99 / self.base.p99:.1f}×"


@dataclass
class Report:
    plan: Plan
    machine: dict[str, str]
    started: datetime
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    only: set[int] = field(default_factory=set)  # --only, when given

    def add(self, row: Row) -> None:
        self.rows.append(row)
        bot = _fmt(row.bot, row.unit)
        base = _fmt(row.base, row.unit) if row.base else "—"
        print(
            f"  {row.section} {row.name}: bot {bot} | base {base} | {row.ratio} | "
            f"{row.verdict} {row.note}",
            flush=True,
        )


def _num(value: float, unit: str) -> str:
    if value is None or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "never"
    if unit == "ms":
        value *= 1000
        return f"{value:.1f}" if value < 100 else f"{value:.0f}"
    if unit == "s":
        return f"{value:.2f}"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _fmt(s: c.Summary | None, unit: str) -> str:
    if s is None:
        return "—"
    return f"{_num(s.median, unit)} / {_num(s.p99, unit)} {unit}"


def verdict(ok: bool) -> str:
    return "pass" if ok else "**miss**"


# ------------------------------------------------------------------------ CPU accounting
def server_cpu(server: c.Server) -> float:
    """CPU seconds used so far by a server's processes (arbiter, worker)."""
    return sum(_ticks(p) for p in _tree(server.proc.pid)) / CpuWatch.HZ


def _ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return sum(int(x) for x in fields[11:15])  # utime stime cutime cstime


def _tree(pid: int) -> Iterator[int]:
    yield pid
    for child in c.children(pid):
        yield from _tree(child)


class CpuWatch:
    """How busy the machine was, outside this benchmark's own processes, over a span."""

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self) -> None:
        self.start = self._snap()

    @staticmethod
    def _busy() -> int:
        parts = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        values = [int(x) for x in parts]
        idle = values[3] + values[4]
        return sum(values[:8]) - idle

    def _snap(self) -> tuple[float, int, int]:
        own = sum(_ticks(p) for p in _tree(os.getpid()))
        return time.monotonic(), self._busy(), own

    def other_cores(self) -> float:
        t1, busy1, own1 = self._snap()
        t0, busy0, own0 = self.start
        seconds = max(t1 - t0, 1e-6)
        return max(0.0, ((busy1 - busy0) - (own1 - own0)) / self.HZ / seconds)


# ------------------------------------------------------------------------ fakes

TEAMS = [
    "search",
    "payments",
    "identity",
    "billing",
    "checkout",
    "catalog",
    "orders",
    "shipping",
    "fraud",
    "ledger",
    "profile",
    "inbox",
    "notify",
    "growth",
    "ads",
    "maps",
    "media",
    "auth",
    "gateway",
    "metrics",
    "audit",
    "risk",
    "tax",
    "support",
    "infra",
]
SERVICES = [
    "api",
    "web",
    "worker",
    "events",
    "stream",
    "index",
    "cache",
    "etl",
    "reports",
    "jobs",
    "sync",
    "feed",
    "alerts",
    "rules",
    "store",
    "logs",
    "traces",
    "vault",
    "queue",
    "cron",
    "admin",
    "portal",
    "edge",
    "proxy",
    "batch",
    "lake",
    "graph",
    "ml",
    "recs",
    "pricing",
    "quotes",
    "invoices",
    "refunds",
    "wallet",
    "points",
    "rewards",
    "promo",
    "coupons",
    "forms",
    "ui",
]
ENVS = ("prod", "staging", "dev", "qa", "perf")


def deployment_names(n: int) -> list[str]:
    names = []
    for env in ENVS:
        for team in TEAMS:
            for service in SERVICES:
                names.append(f"{team}-{service}-{env}")
                if len(names) == n:
                    return names
    raise ValueError(f"at most {len(names)} names")


def new_slack():
    from bot.standins.shared import shared_dir
    from bot.standins.slack.fake import FakeSlack

    root = shared_dir()
    fixtures = root / "slack-fixtures" / "web-api-methods" if root else None
    fake = FakeSlack(
        fixtures if fixtures and fixtures.is_dir() else None,
        bot_token=c.BOT_TOKEN,
        webhook_max_uses=None,
    )
    fake.start()
    fake.add_user(c.OWNER, email=c.OWNER_EMAIL, name="olivia", real_name="Olivia Owner")
    return fake


def new_emulator():
    from bot.standins.elastic.emulator import ElasticEmulator
    from bot.standins.shared import elastic_spec_dir

    spec = elastic_spec_dir()
    if spec is None:
        raise SystemExit(
            "bench: the Elastic API specs are missing (../shared/elastic-cloud-api beside the "
            "checkout, or ELASTIC_ACCESS_SHARED=/path/to/shared)"
        )
    emulator = ElasticEmulator(spec, api_key=c.API_KEY, organization_id=c.ORG_ID)
    emulator.start()
    emulator.add_member(c.OWNER_EMAIL, user_id="1000000002", name="Olivia Owner")
    return emulator


def role(deployment: str) -> dict[str, Any]:
    return {
        "deployment": [
            {
                "role_id": "deployment-viewer",
                "organization_id": c.ORG_ID,
                "all": False,
                "deployment_ids": [deployment],
            }
        ]
    }


# ------------------------------------------------------------------------ the suite


class Suite:
    def __init__(self, plan: Plan, workdir: Path, only: set[int], wait_idle: float = 0.0) -> None:
        self.plan = plan
        self.wait_idle = wait_idle
        self.waited = 0.0
        self.work = workdir
        self.only = only
        self.report = Report(plan, c.machine(), datetime.now(UTC), only=set(only))
        self.slack = new_slack()
        self.emulator = new_emulator()
        self.names = deployment_names(plan.deployments)
        self.deployments: dict[str, str] = {}  # name -> id
        for name in self.names:
            self.deployments[name] = self.emulator.add_deployment(name)
        # Requesters for the interactive flows (Slack users who are Elastic members).
        self.requesters = [f"U0REQ{k:04d}" for k in range(20)]
        for k, user in enumerate(self.requesters):
            email = f"req{k}@example.com"
            self.slack.add_user(user, email=email, name=f"req{k}")
            self.emulator.add_member(email, user_id=str(2 * 10**15 + k))
        self.m2_user = "U0M2REQ00"
        self.slack.add_user(self.m2_user, email="m2@example.com", name="m2")
        self.m2_member = self.emulator.add_member("m2@example.com", user_id=str(3 * 10**15))
        self.floor_member = self.emulator.add_member("floor@example.com", user_id=str(4 * 10**15))
        self.seq = 0
        self.items = 0
        from bench.postgres import Postgres

        self.postgres = Postgres(self)  # 7, 8: its server starts when one of them runs

    # -- helpers ---------------------------------------------------------------------------
    def url(self, kind: str) -> str:
        self.seq += 1
        return self.slack.webhook_url(f"{kind}-{self.seq}")

    def quiet(self, emulators: list[Any] | None = None, timeout: float = 240.0) -> float:
        emulators = emulators or [self.emulator]
        return c.wait_quiet(
            [lambda: len(self.slack.calls)] + [(lambda e=e: len(e.calls)) for e in emulators],
            quiet=self.plan.quiet,
            timeout=timeout,
        )

    def reset_fakes(self) -> None:
        self.slack.reset()
        self.emulator.reset_calls()

    def idle(self) -> None:
        """With --wait-idle: hold off until other processes leave the CPUs (or give up)."""
        if not self.wait_idle:
            return
        began = time.monotonic()
        while time.monotonic() - began < self.wait_idle:
            watch = CpuWatch()
            time.sleep(2)
            if watch.other_cores() < 0.25:
                break
        waited = time.monotonic() - began
        self.waited += waited
        if waited > 2.5:
            print(f"  (waited {waited:.0f}s for other processes to go quiet)", flush=True)

    def want(self, n: int) -> bool:
        return not self.only or n in self.only

    def run(self) -> Report:
        began = time.monotonic()
        steps: list[tuple[int, Callable[[], None]]] = [
            (1, self.interactive),  # runs 1, 2 and 6 on one bot
            (4, self.big_list),
            (5, self.startup),
            (3, self.revocation),
            (7, self.postgres.revocation),
            (8, self.postgres.compare),
        ]
        for number, step in steps:
            if number == 1 and not (self.want(1) or self.want(2) or self.want(6)):
                continue
            if number != 1 and not self.want(number):
                continue
            t = time.monotonic()
            step()
            name = step.__name__ if number < 7 else f"postgres_{step.__name__}"
            self.report.timings[name] = time.monotonic() - t
        self.report.timings["total"] = time.monotonic() - began
        if self.waited:
            self.report.timings["of which waiting for an idle machine"] = self.waited
        return self.report

    def close(self) -> None:
        self.postgres.stop()
        self.slack.stop()
        self.emulator.stop()

    # -- 1, 2, 6: the interactive bot ------------------------------------------------------
    def interactive(self) -> None:
        print("== interactive bot: ack latency, click → grant, resource options", flush=True)
        base = c.spawn_baseline(
            "baseline", self.work, slack_api_url=self.slack.api_url, elastic_url=self.emulator.url
        )
        bot = c.spawn_bot(
            "bot-interactive",
            self.work,
            database=self.work / "interactive.db",
            slack_api_url=self.slack.api_url,
            elastic_url=self.emulator.url,
        )
        try:
            base.wait_ready()
            seconds = bot.wait_ready(timeout=120)
            self.report.notes.append(
                f"Interactive bot ready in {seconds:.1f}s (first start: migrations plus a "
                f"catalogue refresh of {len(self.names)} deployments through deployments/_search)."
            )
            self.quiet()
            self.reset_fakes()
            if self.want(1):
                self.ack_latency(bot, base)
            if self.want(2):
                self.click_to_grant(bot, base)
            if self.want(6):
                self.options(bot, base)
        finally:
            bot.stop()
            base.stop()

    def _ack_items(self, kind: str, n: int, pending: Iterator[int] | None) -> list[str]:
        items = []
        for i in range(n):
            self.seq += 1
            # Requester and resource from their own counter: ``self.url`` also advances
            # ``seq``, and a (requester, resource) pair met twice is an open request already
            # (answered with its #n, not filed), so the clicks would run short of requests.
            self.items += 1
            user = self.requesters[self.items % len(self.requesters)]
            if kind == "list":
                items.append(c.command_body(user, "list", self.url("list")))
            elif kind == "request":
                name = self.names[self.items % len(self.names)]
                text = f"request {name} deployment-viewer 2h bench load {self.seq}"
                items.append(c.command_body(user, text, self.url("req")))
            else:
                # Fewer pending requests than clicks (the run notes say so): the clicks go on
                # with a made-up ID, whose ack path is the same and whose work is a refusal.
                nxt = next(pending, None) if pending is not None else None
                value = str(nxt if nxt is not None else 100000 + i)
                items.append(c.click_body(c.OWNER, "approve", value, self.url("click")))
        return items

    def ack_latency(self, bot: c.Server, base: c.Server) -> None:
        plan = self.plan
        total = sum(plan.ack_counts.values())
        for kind in ("list", "request", "approve"):
            pending: Iterator[int] | None = None
            if kind == "approve":
                ids = _pending_ids(self.work / "interactive.db", self.requesters)
                if len(ids) < total:
                    self.report.notes.append(
                        f"Only {len(ids)} pending requests to approve (wanted {total})."
                    )
                pending = iter(ids)
            for conc, n in plan.ack_counts.items():
                skip = max(10, conc)
                label = f"`{kind}`" if kind != "request" else "`request …` (text form)"
                if kind == "approve":
                    label = "Approve click"
                self.idle()
                watch = CpuWatch()
                cpu0 = server_cpu(base)
                b = c.run_load(
                    base.url, self._ack_items(kind, n, None), concurrency=conc, keep_bodies=1
                )
                base_cpu = (server_cpu(base) - cpu0) / n
                items = self._ack_items(kind, n, pending)
                cpu0 = server_cpu(bot)
                r = c.run_load(bot.url, items, concurrency=conc, keep_bodies=3)
                drained = self.quiet()
                bot_cpu = (server_cpu(bot) - cpu0) / n
                other = watch.other_cores()
                self.reset_fakes()
                bs = c.Summary.of(b.ok_latencies(skip), b.errors(skip))
                rs = c.Summary.of(r.ok_latencies(skip), r.errors(skip))
                ok = rs.p99 <= 1.5 * bs.p99 and rs.errors == 0
                target = "p99 ≤ 1.5× baseline"
                if conc == 10:
                    ok = ok and rs.p99 < 0.100
                    target += " and < 100 ms"
                note = (
                    f"{rs.n} acks ({skip} warm-up dropped); server CPU per request "
                    f"{bot_cpu * 1000:.1f} ms (baseline {base_cpu * 1000:.1f} ms)"
                )
                if rs.errors:
                    note += f"; {rs.errors} non-200 answers"
                late = sum(1 for x in r.ok_latencies(skip) if x > 3.0)
                if late:
                    note += f"; **{late} answered after Slack's 3 s deadline**"
                if kind != "list":
                    note += f"; background work drained {drained:.1f}s after the last ack"
                if kind == "list" and r.bodies and "request" not in r.bodies[-1]:
                    note += f"; unexpected answer {r.bodies[-1][:80]!r}"
                self.report.add(
                    Row(
                        "1",
                        f"{label} ack, {conc} concurrent",
                        rs,
                        bs,
                        "bare Bolt app, no-op `ack()`",
                        target,
                        verdict(ok),
                        note=note,
                        other_load=other,
                    )
                )
        states = _states(self.work / "interactive.db")
        self.report.notes.append(
            "After the ack runs the interactive bot's requests were: "
            + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
            + "."
        )

    def click_to_grant(self, bot: c.Server, base: c.Server) -> None:
        plan = self.plan
        n = plan.click_to_post
        names = self.names[-n:]  # units the M2 requester does not hold yet
        # File the requests through the bot itself (the real path), then approve them one by one.
        filing = [
            c.command_body(
                self.m2_user, f"request {name} deployment-viewer 1h click to grant", self.url("m2")
            )
            for name in names
        ]
        c.run_load(bot.url, filing, concurrency=1, interval=0.05)
        self.quiet()
        db = sqlite3.connect(self.work / "interactive.db")
        rows = db.execute(
            "SELECT id, resource_id FROM requests WHERE requester_id = ? AND state = 'pending' "
            "ORDER BY id",
            (self.m2_user,),
        ).fetchall()
        db.close()
        self.reset_fakes()
        self.idle()
        watch = CpuWatch()
        # Baseline: ack, then one role-assignment POST (no DB, no Slack, no read-back).
        base_deps = [self.deployments[name] for name in self.names[:n]]
        b = c.run_load(
            base.url,
            [
                c.click_body(c.OWNER, "approve_floor", f"{self.floor_member}:{d}", self.url("bf"))
                for d in base_deps
            ],
            concurrency=1,
            interval=plan.click_interval,
        )
        clicks = [c.click_body(c.OWNER, "approve", str(rid), self.url("m2c")) for rid, _ in rows]
        r = c.run_load(bot.url, clicks, concurrency=1, interval=plan.click_interval)
        self.quiet()
        other = watch.other_cores()
        posts = self.emulator.calls_to("POST", "/role_assignments")
        self.reset_fakes()

        def first_post(member: str) -> dict[str, float]:
            seen: dict[str, float] = {}
            for call in posts:
                if f"/users/{member}/" not in call["path"]:
                    continue
                for entry in (call["body"] or {}).get("deployment", []):
                    for dep in entry.get("deployment_ids", []):
                        seen.setdefault(dep, call["time"])
            return seen

        base_posts = first_post(self.floor_member)
        bot_posts = first_post(self.m2_member)
        base_lat = [
            base_posts[d] - t0 for d, t0 in zip(base_deps, b.t0, strict=True) if d in base_posts
        ]
        bot_lat = [
            bot_posts[dep] - t0
            for (_, dep), t0 in zip(rows, r.t0, strict=False)
            if dep in bot_posts
        ]
        missing = len(rows) - len(bot_lat)
        rs = c.Summary.of(bot_lat + [math.inf] * missing, missing)
        bs = c.Summary.of(base_lat, len(base_deps) - len(base_lat))
        note = f"{len(rows)} approvals, one at a time, {plan.click_interval * 1000:.0f} ms apart"
        if len(rows) < n:
            note += f" (only {len(rows)} of {n} requests were filed)"
        if missing:
            note += f"; {missing} never reached Elastic"
        self.report.add(
            Row(
                "2",
                "Approve click → role-assignment POST at the emulator",
                rs,
                bs,
                "bare Bolt app: `ack()` then one httpx POST",
                "median < 100 ms",
                verdict(rs.median < 0.100 and not missing),
                note=note,
                other_load=other,
            )
        )

    def options(self, bot: c.Server, base: c.Server) -> None:
        values = [
            "",
            "p",
            "pay",
            "payments-api",
            "search-index-prod",
            "prod",
            "-dev",
            "zz-no-match",
            "ledger-l",
            self.deployments[self.names[1234 % len(self.names)]][:6],
        ]
        for conc, n in self.plan.options_counts.items():
            items = [
                c.options_body(self.requesters[0], "resource", values[i % len(values)])
                for i in range(n)
            ]
            self.idle()
            watch = CpuWatch()
            b = c.run_load(base.url, items, concurrency=conc)
            r = c.run_load(bot.url, items, concurrency=conc, keep_bodies=len(values))
            other = watch.other_cores()
            skip = max(10, conc)
            rs = c.Summary.of(r.ok_latencies(skip), r.errors(skip))
            bs = c.Summary.of(b.ok_latencies(skip), b.errors(skip))
            counts = []
            for body in r.bodies[: len(values)]:
                with contextlib.suppress(ValueError):
                    counts.append(len(json.loads(body).get("options", [])))
            note = (
                f"{rs.n} suggestions over {len(values)} typed values "
                f"(options returned: {min(counts) if counts else '?'}–{max(counts) if counts else '?'})"
            )
            if rs.errors:
                note += f"; {rs.errors} non-200 answers"
            self.report.add(
                Row(
                    "6",
                    f"Resource picker options ({len(self.names)} deployments), {conc} concurrent",
                    rs,
                    bs,
                    "bare Bolt app, no-op `ack()`",
                    "p99 < 100 ms",
                    verdict(rs.p99 < 0.100 and not rs.errors),
                    note=note,
                    other_load=other,
                )
            )

    # -- 4: list on a big database ---------------------------------------------------------
    def big_list(self) -> None:
        plan = self.plan
        print(
            f"== list on {plan.list_requests:,} requests / {plan.list_events:,} events", flush=True
        )
        path = self.work / "big.db"
        built = gen.generate(path, requests=plan.list_requests, events=plan.list_events)
        self.report.notes.append(
            f"`bench/generate_db.py` built the {plan.list_requests:,}-request / "
            f"{plan.list_events:,}-event database ({built['bytes'] / 1e6:.0f} MB) in "
            f"{built['seconds']:.1f}s."
        )
        bot = c.spawn_bot(
            "bot-biglist",
            self.work,
            database=path,
            slack_api_url=self.slack.api_url,
            elastic_url=self.emulator.url,
        )
        try:
            seconds = bot.wait_ready(timeout=120)
            self.report.notes.append(f"Bot on the big database ready in {seconds:.1f}s.")
            self.quiet()
            self.reset_fakes()
            requesters = _busiest_requesters(path, 50)
            for who in ("owner", "requester"):
                self.idle()
                sql = _raw_list(path, None if who == "owner" else requesters, plan.sql_iterations)
                for conc, n in plan.list_counts.items():
                    if who == "owner":
                        items = [c.command_body(c.OWNER, "list", self.url("bl")) for _ in range(n)]
                    else:
                        items = [
                            c.command_body(requesters[i % len(requesters)], "list", self.url("bl"))
                            for i in range(n)
                        ]
                    self.idle()
                    watch = CpuWatch()
                    r = c.run_load(bot.url, items, concurrency=conc, keep_bodies=2)
                    other = watch.other_cores()
                    skip = max(10, conc)
                    rs = c.Summary.of(r.ok_latencies(skip), r.errors(skip))
                    note = f"{rs.n} lists"
                    if r.bodies and "request" not in r.bodies[-1]:
                        note += f"; unexpected answer {r.bodies[-1][:80]!r}"
                    if rs.errors:
                        note += f"; {rs.errors} non-200 answers"
                    label = (
                        f"integration owner (all of {plan.list_requests:,} requests)"
                        if who == "owner"
                        else f"requester (own, of {plan.list_requests:,})"
                    )
                    self.report.add(
                        Row(
                            "4",
                            f"`list` ack, {label}, {conc} concurrent",
                            rs,
                            sql,
                            "the same two indexed queries in raw sqlite3",
                            "p99 < 150 ms",
                            verdict(rs.p99 < 0.150 and not rs.errors),
                            note=note,
                            other_load=other,
                        )
                    )
        finally:
            bot.stop()
            with contextlib.suppress(OSError):
                path.unlink()

    # -- 5: start-up ----------------------------------------------------------------------
    def startup(self) -> None:
        plan = self.plan
        print(f"== start-up with {plan.startup_grants:,} active grants", flush=True)
        path = self.work / "startup.db"
        gen.generate(
            path,
            requests=plan.startup_history + plan.startup_grants,
            events=plan.startup_events,
            active=plan.startup_grants,
            pending=0,
        )
        # One unmeasured start fills the catalogue cache, as on any start after the first.
        warm = c.spawn_bot(
            "bot-startup-warm",
            self.work,
            database=path,
            slack_api_url=self.slack.api_url,
            elastic_url=self.emulator.url,
        )
        try:
            warm.wait_ready(timeout=120)
        finally:
            warm.stop()
        self.quiet()
        ready, rss, total, base_ready, base_rss, base_total = [], [], [], [], [], []
        watch = CpuWatch()
        for run in range(plan.startup_runs):
            self.idle()
            b = c.spawn_baseline(
                f"baseline-startup-{run}", self.work, slack_api_url=self.slack.api_url
            )
            try:
                base_ready.append(b.wait_ready())
                time.sleep(2)
                mem = b.rss_mb()
                base_rss.append(mem["worker"])
                base_total.append(mem["total"])
            finally:
                b.stop()
            bot = c.spawn_bot(
                f"bot-startup-{run}",
                self.work,
                database=path,
                slack_api_url=self.slack.api_url,
                elastic_url=self.emulator.url,
            )
            try:
                ready.append(bot.wait_ready(timeout=120))
                time.sleep(plan.settle)  # the background catalogue refresh runs right after start
                mem = bot.rss_mb()
                rss.append(mem["worker"])
                total.append(mem["total"])
            finally:
                bot.stop()
            self.quiet()
        other = watch.other_cores()
        timers = _grep(self.work / "bot-startup-0.log", "revocation timers")
        note = f"{plan.startup_runs} start(s); spawn → /healthz 200"
        if timers:
            note += f"; log: “{timers.split('] ', 1)[-1].strip()[:90]}”"
        self.report.add(
            Row(
                "5",
                f"Start-up to ready, {plan.startup_grants:,} active grants",
                c.Summary.of(ready),
                c.Summary.of(base_ready),
                "bare Bolt app under the same gunicorn config",
                "ready < 3 s",
                verdict(c.percentile(ready, 99) < 3.0),
                unit="s",
                note=note,
                other_load=other,
            )
        )
        self.report.add(
            Row(
                "5",
                f"RSS of the worker process, {plan.startup_grants:,} active grants",
                c.Summary.of(rss),
                c.Summary.of(base_rss),
                "bare Bolt app worker",
                "RSS < 150 MB",
                verdict(c.percentile(rss, 99) < 150),
                unit="MB",
                note=(
                    f"VmRSS {plan.settle:.0f} s after ready; gunicorn arbiter + worker together: "
                    f"{c.percentile(total, 50):.0f} MB (baseline {c.percentile(base_total, 50):.0f} MB)"
                ),
                other_load=other,
            )
        )
        with contextlib.suppress(OSError):
            path.unlink()

    # -- 3: revocation punctuality ---------------------------------------------------------
    def revocation(self) -> None:
        plan = self.plan
        print(f"== revocation of {plan.grants} grants", flush=True)
        for restart in (False, True):
            results = {}
            for who in ("floor", "bot"):
                results[who] = self._revocation_run(who, restart)
            self._revocation_rows(results, restart)

    def _revocation_run(self, who: str, restart: bool) -> dict[str, Any]:
        plan = self.plan
        tag = f"{who}-{'restart' if restart else 'expiry'}"
        emulator = new_emulator()
        deployments = [emulator.add_deployment(f"revoke-target-{j:02d}") for j in range(50)]
        grants = []
        now = started = datetime.now(UTC)
        for k in range(plan.grants):
            dep = deployments[k % len(deployments)]
            email = gen.user_email(k)
            uid = gen.elastic_user_id(k)
            emulator.add_member(email, user_id=uid, role_assignments=role(dep))
            self.slack.add_user(gen.user_id(k), email=email, name=f"user{k}")
            if restart:
                lo, hi = plan.overdue
                expires = now - timedelta(seconds=hi - (hi - lo) * k / max(1, plan.grants - 1))
            else:
                spread = plan.expiry_window * k / max(1, plan.grants - 1)
                expires = now + timedelta(seconds=plan.first_expiry + spread)
            grants.append(
                gen.Grant(
                    requester=k,
                    deployment=dep,
                    deployment_name=f"revoke-target-{k % len(deployments):02d}",
                    role="deployment-viewer",
                    granted_at=min(now, expires) - timedelta(hours=1),
                    expires_at=expires,
                )
            )
        path = self.work / f"revoke-{tag}.db"
        if path.exists():
            path.unlink()
        self.idle()
        now = datetime.now(UTC)  # after any wait: expiries are relative to the seeding
        grants = [
            dataclasses.replace(
                g,
                granted_at=g.granted_at + (now - started),
                expires_at=g.expires_at + (now - started),
            )
            for g in grants
        ]
        gen.seed_grants(path, grants)
        expiry = {gen.elastic_user_id(g.requester): g.expires_at.timestamp() for g in grants}
        offset = c.wall_offset()
        watch = CpuWatch()
        first_expiry = min(expiry.values())
        last_expiry = max(expiry.values())
        deadline_wall = max(time.time(), last_expiry) + (90 if self.plan.name == "full" else 45)
        server: c.Server | None = None
        floor: subprocess.Popen | None = None
        cpu = math.nan
        spawned = time.monotonic()
        try:
            if who == "bot":
                server = c.spawn_bot(
                    f"bot-{tag}",
                    self.work,
                    database=path,
                    slack_api_url=self.slack.api_url,
                    elastic_url=emulator.url,
                )
                server.wait_ready(timeout=120)
                ready = server.ready_at
            else:
                floor = subprocess.Popen(
                    [
                        c.PYTHON,
                        "-m",
                        "bench.floor_revoker",
                        "--db",
                        str(path),
                        "--elastic-url",
                        emulator.url,
                        "--api-key",
                        c.API_KEY,
                        "--org",
                        c.ORG_ID,
                    ],
                    cwd=c.SRC,
                    env=c.clean_env(),
                    stdout=subprocess.PIPE,
                    stderr=open(self.work / f"{tag}.log", "ab"),  # noqa: SIM115
                    text=True,
                )
                assert floor.stdout is not None
                line = floor.stdout.readline()
                if "READY" not in line:
                    raise RuntimeError(f"floor revoker did not start: {line!r}")
                ready = time.monotonic()
            while time.time() < deadline_wall:
                deletes = emulator.calls_to("DELETE", "/role_assignments")
                if len({d["path"] for d in deletes}) >= plan.grants:
                    break
                time.sleep(0.2)
            time.sleep(0.5)
            cpu = (
                server_cpu(server)
                if server is not None
                else sum(_ticks(p) for p in _tree(floor.pid)) / CpuWatch.HZ
            )
        finally:
            if server is not None:
                server.stop()
            if floor is not None:
                if floor.poll() is None:
                    floor.terminate()
                floor.wait(timeout=30)
        other = watch.other_cores()
        done: dict[str, float] = {}
        for call in emulator.calls_to("DELETE", "/role_assignments"):
            uid = call["path"].split("/users/", 1)[1].split("/", 1)[0]
            done.setdefault(uid, call["time"] + offset)
        calls = collections.Counter(
            f"{call['method']} {'members' if call['path'].endswith('/members') else call['path'].split('/')[-1]}"
            for call in emulator.calls_to("*", "/")
        )
        emulator.stop()
        late = [done.get(uid, math.inf) - expires for uid, expires in expiry.items()]
        ready_wall = ready + offset
        states = _states(path) if who == "bot" else {}
        with contextlib.suppress(OSError):
            path.unlink()
        return {
            "late": late,
            "done": done,
            "first_expiry": first_expiry,
            "last_expiry": last_expiry,
            "ready_wall": ready_wall,
            "spawn_wall": spawned + offset,
            "startup": ready - spawned,
            "other": other,
            "states": states,
            "cpu": cpu,
            "calls": calls,
        }

    def _revocation_rows(self, results: dict[str, dict[str, Any]], restart: bool) -> None:
        plan = self.plan
        bot, floor = results["bot"], results["floor"]
        missing = sum(1 for x in bot["late"] if math.isinf(x))
        if not restart:
            finished = max(bot["done"].values()) if bot["done"] else math.inf
            within = finished - bot["first_expiry"]
            rs = c.Summary.of(bot["late"], missing)
            fs = c.Summary.of(floor["late"])
            ok = rs.p99 < 1.0 and not missing and within <= 30
            note = (
                f"{plan.grants} grants expiring {plan.first_expiry:.0f}–"
                f"{plan.first_expiry + plan.expiry_window:.0f}s after seeding; "
                f"last DELETE {within:.1f}s after the first expiry (floor "
                f"{max(floor['done'].values()) - floor['first_expiry']:.1f}s)"
            )
            note += (
                f"; process CPU per grant {bot['cpu'] / plan.grants * 1000:.0f} ms "
                f"(floor {floor['cpu'] / plan.grants * 1000:.1f} ms)"
            )
            if missing:
                note += f"; {missing} not revoked by the deadline"
            if bot["states"]:
                note += "; rows: " + ", ".join(f"{k} {v}" for k, v in sorted(bot["states"].items()))
            self.report.add(
                Row(
                    "3",
                    f"Revocation lateness, {plan.grants} grants expiring together (expires_at → DELETE)",
                    rs,
                    fs,
                    "APScheduler 3 date jobs + one httpx DELETE each (bench/floor_revoker.py)",
                    "p99 < 1 s; all done ≤ 30 s after the first expiry",
                    verdict(ok),
                    unit="s",
                    note=note,
                    other_load=bot["other"],
                )
            )
            return
        uids = _uids(plan.grants)
        # Times from process start (spawn): always positive, and comparable with the floor.
        rel = [bot["done"].get(uid, math.inf) - bot["spawn_wall"] for uid in uids]
        frel = [floor["done"].get(uid, math.inf) - floor["spawn_wall"] for uid in uids]
        rs = c.Summary.of(rel, missing)
        fs = c.Summary.of(frel)
        after_ready = [x - bot["startup"] for x in rel]
        before = sum(1 for x in after_ready if x < 0)
        last = max(after_ready)
        last_from_spawn = max(rel)
        ok = not missing and bot["startup"] < 1.0 and last_from_spawn <= 10
        note = (
            f"{plan.grants} grants {plan.overdue[0]:.0f}–{plan.overdue[1]:.0f}s overdue at start; "
            f"times from process start; spawn → ready {bot['startup']:.1f}s (floor "
            f"{floor['startup']:.1f}s); {before} revoked before ready by the start-up catch-up "
            f"sweep; last DELETE {last:.1f}s after ready (floor "
            f"{max(frel) - floor['startup']:.1f}s); process CPU per grant "
            f"{bot['cpu'] / plan.grants * 1000:.0f} ms (floor {floor['cpu'] / plan.grants * 1000:.1f} ms)"
        )
        if missing:
            note += f"; {missing} not revoked by the deadline"
        self.report.add(
            Row(
                "3",
                f"Restart with {plan.grants} overdue grants: process start → DELETE",
                rs,
                fs,
                "same floor, started on the same rows",
                "ready < 1 s after spawn; all revoked ≤ 10 s after spawn",
                verdict(ok),
                unit="s",
                note=note,
                other_load=bot["other"],
            )
        )
        per_bot = bot["cpu"] / plan.grants  # seconds; the row shows ms
        per_floor = floor["cpu"] / plan.grants
        self.report.add(
            Row(
                "3",
                "Process CPU per revocation (the restart run above)",
                c.Summary.of([per_bot]),
                c.Summary.of([per_floor]),
                "the floor revoker: one DELETE per grant, no SQL, no read-back, no Slack",
                "≤ 2× the floor's",
                verdict(per_bot <= 2 * per_floor),
                note=(
                    f"{plan.grants} revocations: the bot {bot['cpu']:.1f} s of CPU in all, "
                    f"the floor {floor['cpu']:.1f} s"
                ),
                other_load=bot["other"],
            )
        )


# ------------------------------------------------------------------------ SQL helpers


def _uids(n: int) -> list[str]:
    return [gen.elastic_user_id(k) for k in range(n)]


def _pending_ids(path: Path, requesters: list[str]) -> list[int]:
    db = sqlite3.connect(path)
    try:
        marks = ", ".join("?" for _ in requesters)
        rows = db.execute(
            f"SELECT id FROM requests WHERE state = 'pending' AND requester_id IN ({marks}) "
            "ORDER BY id",
            requesters,
        ).fetchall()
    finally:
        db.close()
    return [r[0] for r in rows]


def _states(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT state, count(*) FROM requests GROUP BY state").fetchall())
    finally:
        db.close()


def _busiest_requesters(path: Path, n: int) -> list[str]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute(
            "SELECT requester_id FROM requests GROUP BY requester_id ORDER BY count(*) DESC LIMIT ?",
            (n,),
        ).fetchall()
    finally:
        db.close()
    return [r[0] for r in rows]


def _raw_list(path: Path, requesters: list[str] | None, iterations: int) -> c.Summary:
    """The list command's two queries (count + newest page), timed in raw sqlite3."""
    db = sqlite3.connect(path)
    timings = []
    try:
        for i in range(iterations + 20):
            began = time.perf_counter()
            if requesters is None:
                db.execute("SELECT count(*) FROM requests").fetchone()
                db.execute("SELECT * FROM requests ORDER BY id DESC LIMIT 20 OFFSET 0").fetchall()
            else:
                who = requesters[i % len(requesters)]
                db.execute(
                    "SELECT count(*) FROM requests WHERE requester_id = ?", (who,)
                ).fetchone()
                db.execute(
                    "SELECT * FROM requests WHERE requester_id = ? ORDER BY id DESC LIMIT 20 OFFSET 0",
                    (who,),
                ).fetchall()
            if i >= 20:
                timings.append(time.perf_counter() - began)
    finally:
        db.close()
    return c.Summary.of(timings)


def _grep(path: Path, needle: str) -> str:
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            if needle in line:
                return line
    return ""


# ------------------------------------------------------------------------ the report

SECTIONS = {
    "1": "Ack latency over HTTP",
    "2": "Approve click → grant",
    "3": "Revocation punctuality",
    "4": "`/elastic-access list` on a big database",
    "5": "Start-up time and memory",
    "6": "Resource picker options",
    "7": "Two processes on PostgreSQL: revocation",
    "8": "PostgreSQL next to SQLite",
}
#: Measurements reported in their own section, "PostgreSQL" (bench/postgres.py).
POSTGRES = {7, 8}


def render(report: Report) -> str:
    m = report.machine
    plan = report.plan
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m bench.run"
        + (" --quick" if plan.name == "quick" else "")
        + f"` on {report.started:%Y-%m-%d %H:%M} UTC ({plan.name} mode, "
        f"{report.timings.get('total', 0) / 60:.1f} min). Every row measures the bot and its "
        "baseline — the floor of the bot's own stack — in the same run. Times are "
        "**median / p99**; *ratio* is bot ÷ baseline for the median and for the p99.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPUs | {m['cpus']} × {m['cpu']} |",
        f"| memory | {m['memory']} |",
        f"| OS | {m['os']} |",
        f"| Python | {m['python']} |",
        f"| slack-bolt / slack-sdk | {m['slack-bolt']} / {m['slack-sdk']} |",
        f"| httpx | {m['httpx']} |",
        f"| sqlite-utils | {m['sqlite-utils']} (SQLite {sqlite3.sqlite_version}) |",
        f"| APScheduler | {m['apscheduler']} |",
        f"| gunicorn | {m['gunicorn']} |",
        f"| commit | {m['commit']} |",
        "",
        "## Results",
        "",
        "| # | measurement | bot | baseline | ratio | target | result | other CPU load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = sorted(
        (r for r in report.rows if int(r.section) not in POSTGRES), key=lambda r: r.section
    )  # stable: run order within a section
    for row in rows:
        other = f"{row.other_load:.2f} cores" if row.other_load is not None else "—"
        lines.append(
            f"| {row.section} | {row.name} | {_fmt(row.bot, row.unit)} | "
            f"{_fmt(row.base, row.unit)} | {row.ratio} | {row.target} | {row.verdict} | {other} |"
        )
    lines += ["", "### Per-row details", ""]
    for row in rows:
        lines.append(f"- **{row.section}. {row.name}** — baseline: {row.base_label}. {row.note}.")
    lines += ["", "### Run notes", ""]
    lines += [f"- {n}" for n in report.notes if not n.startswith("PostgreSQL")]
    lines += [
        "- *Other CPU load* is how many cores processes outside the benchmark kept busy during "
        "the row (from /proc/stat minus the benchmark's own process tree): other work on a "
        "2-core machine shows up directly in the bot's tail latencies.",
        "- Timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in report.timings.items()) + ".",
        "",
    ]
    if any(int(r.section) in POSTGRES for r in report.rows):
        from bench.postgres import render_section

        lines += render_section(report).splitlines() + [""]
    lines += METHOD.splitlines()
    return "\n".join(lines) + "\n"


METHOD = """## Method

- **Servers.** The bot runs as the real `python -m bot run --mode http` subprocess:
  gunicorn, one worker, `gthread` with 8 threads (`bot/web/server.py serve_http`). The
  baseline is a bare slack-bolt `App` whose handlers only call `ack()`
  (`bench/baseline_app.py`), served by the same gunicorn configuration in its own
  subprocess (copied settings, including `control_socket_disable`; each server also gets
  its own `XDG_RUNTIME_DIR`, where gunicorn ≥ 25.1 would otherwise put its control socket).
- **Clients.** `bench/loadgen.py` runs in its own process (closed loop, *N* clients, one
  keep-alive connection each, signed like Slack signs). Latency runs from the first byte
  sent to the last byte of the answer. The first max(10, *N*) answers of a level are
  warm-up and are dropped. One client sends 600 requests per level, so its p99 is not just
  the second-slowest answer.
- **Floor.** Both servers answer about 12 ms after a request arrives even when idle: in
  HTTP mode Bolt runs the listener on its own thread and the request thread checks for the
  `ack()` every 10 ms (`slack_bolt/listener/thread_runner.py`). A listener that has not
  acked by the first check costs a whole extra 10 ms, which is why contention shows up
  in these rows as steps of 10 ms.
- **Fakes.** `fakes/` FakeSlack and ElasticEmulator (zero added latency) run in the
  orchestrating process, so neither the load generator nor the servers share their GIL.
  They do share the 2 CPUs: the bot's background Slack/Elastic traffic costs CPU that, in
  production, Slack and Elastic Cloud would spend elsewhere.
- **1.** `list` answers inline; `request … ` (text form) and Approve are acknowledged
  first and worked on afterwards (Bolt's `ack()` then the listener continues), so their
  rows also say how long the bot's background work took to drain. Approve clicks approve
  the requests filed by the `request` rows.
- **2.** Requests are filed through the bot, then approved one at a time; latency is from
  the click's send to the emulator's recorded arrival of the role-assignment POST
  (both `time.monotonic()`, a machine-wide clock). Baseline: a Bolt handler that acks and
  sends the same POST with httpx.
- **3.** Rows are written straight into a fresh database (`bench/generate_db.seed_grants`:
  ACTIVE rows, audit events, `owned_units`), each member holds the role in the emulator,
  and the bot starts with the real clock and the default `SWEEP_INTERVAL`. Lateness is the
  emulator's DELETE arrival minus the row's `expires_at`. Baseline (`bench/floor_revoker.py`):
  APScheduler 3 with the bot's scheduler settings firing one httpx DELETE per grant. The
  restart row starts the bot (and the floor) on grants that are already overdue and times
  each DELETE from process start; the target is judged on the first `/healthz` 200 (ready:
  the catch-up sweep runs after it, in the background) and on the last DELETE, both from
  process start. The CPU row divides each process's CPU time over that run (from /proc) by
  the number of grants.
- **4.** `bench/generate_db.py` builds the database with the bot's migrations and
  `executemany` in one transaction. Baseline: the bot's own two queries (count, newest 20)
  on the same file through raw sqlite3, in-process, no HTTP.
- **5.** Time from `Popen` to the first `/healthz` 200, then the worker's VmRSS from
  /proc a few seconds later (5 s full, 2 s quick). One unmeasured start first fills the catalogue cache.
- **6.** `block_suggestion` payloads for `action_id` `resource` with a mix of typed values
  (empty, prefixes, substrings, an id prefix, no match), against a catalogue the bot pulled
  from the emulator at start.

## How to run

```sh
.venv/bin/python -m bench.run            # full: about 7 minutes on 2 CPUs, writes docs/benchmarks.md
.venv/bin/python -m bench.run --quick    # smaller counts, about 80 seconds
.venv/bin/python -m bench.run --wait-idle 90   # on a shared machine: wait for quiet CPUs
.venv/bin/python -m bench.run --only 1,4 --output /tmp/bench.md   # a subset
.venv/bin/python -m bench.run --only 7,8   # PostgreSQL only: rewrites just that section
.venv/bin/python -m bench.generate_db /tmp/big.db --requests 100000 --events 1000000
```

Needs the Elastic API specs beside the checkout (`../shared/elastic-cloud-api`, or
`ELASTIC_ACCESS_SHARED=/path/to/shared`), like the test suite. Run it on an otherwise idle
machine: the *other CPU load* column shows when that was not the case.

The misses found along the way, their profiles and the before/after of each fix are in
[benchmark-history.md](benchmark-history.md) (this page is rewritten by every run).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark elastic-access-bot.")
    parser.add_argument("--quick", action="store_true", help="small counts, under 2 minutes")
    parser.add_argument("--only", default="", help="comma-separated measurement numbers (1-8)")
    parser.add_argument(
        "--output", type=Path, default=c.REPO / "docs" / "benchmarks.md", help="report path"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, DBs)")
    parser.add_argument("--json", type=Path, default=None, help="also write raw results here")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement, wait up to this long for other processes to go quiet",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    only = {int(x) for x in args.only.split(",") if x.strip()}
    workdir = Path(tempfile.mkdtemp(prefix="elastic-access-bench-"))
    print(f"bench: {plan.name} mode, work directory {workdir}", flush=True)
    global gen
    snapshot = c.snapshot_bot(workdir)
    import bench.generate_db

    gen = bench.generate_db
    suite = Suite(plan, workdir, only, wait_idle=args.wait_idle)
    suite.report.machine["commit"] += f"; bot/ as run: sha256 {snapshot}…"
    try:
        report = suite.run()
    finally:
        suite.close()
        if args.keep:
            print(f"bench: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if only and only <= POSTGRES and args.output.exists():
        # Only the PostgreSQL measurements ran: keep the rest of the page as it was.
        from bench.postgres import render_section, splice

        args.output.write_text(splice(args.output.read_text(), render_section(report)))
    else:
        args.output.write_text(render(report))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "plan": plan.name,
                    "machine": report.machine,
                    "rows": [
                        {
                            "section": r.section,
                            "name": r.name,
                            "unit": r.unit,
                            "bot": vars(r.bot),
                            "baseline": vars(r.base) if r.base else None,
                            "verdict": r.verdict,
                            "other_load": r.other_load,
                            "note": r.note,
                        }
                        for r in report.rows
                    ],
                    "notes": report.notes,
                },
                indent=1,
                default=str,
            )
        )
    print(f"bench: wrote {args.output} in {report.timings.get('total', 0):.0f}s")
    return 0


if __name__ == "__main__":
    # bench.postgres imports this module as bench.run: let it find this one, not a second copy.
    sys.modules.setdefault("bench.run", sys.modules[__name__])
    sys.exit(main(sys.argv[1:]))
