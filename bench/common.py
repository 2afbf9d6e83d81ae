"""Shared pieces of the benchmark suite: statistics, processes, fakes, Slack payloads.

Everything listens on 127.0.0.1. Servers under test run as subprocesses (gunicorn gthread,
exactly the configuration ``bot.web.server.serve_http`` uses); the load generator runs in
its own subprocess too, so neither competes for this process's GIL, where the fakes live.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
#: Where ``bot`` is imported from, here and in every subprocess (see snapshot_bot).
SRC = REPO

SIGNING_SECRET = "bench-signing-secret-5b1e0c"
BOT_TOKEN = "xoxb-bench-token"
API_KEY = "essu_bench_api_key_0123456789abcdef"
ORG_ID = "1234567890"
OWNER = "U0OWNER01"
OWNER_EMAIL = "owner1@example.com"
COMMAND = "/elastic-access"


# ------------------------------------------------------------------------ statistics
def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); +inf values (never happened) sort last."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Summary:
    n: int
    median: float
    p99: float
    maximum: float
    errors: int = 0

    @classmethod
    def of(cls, values: Sequence[float], errors: int = 0) -> Summary:
        return cls(
            len(values),
            percentile(values, 50),
            percentile(values, 99),
            max(values) if values else math.nan,
            errors,
        )


# ------------------------------------------------------------------------ environment
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """The parent environment without Slack/Elastic settings or proxies, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("SLACK_", "ELASTIC_", "DATABASE_", "INTEGRATION_"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        and k.upper() not in ("PORT", "HOST", "LOG_FORMAT", "LOG_LEVEL", "SWEEP_INTERVAL")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([str(SRC), str(REPO)]))
    env.update(extra)
    return env


def bot_env(
    *,
    port: int,
    database: Path,
    slack_api_url: str,
    elastic_url: str,
    **extra: str,
) -> dict[str, str]:
    return clean_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_api_url,
        ELASTIC_CLOUD_API_KEY=API_KEY,
        ELASTIC_CLOUD_ORGANIZATION_ID=ORG_ID,
        ELASTIC_CLOUD_API_URL=elastic_url,
        DATABASE_PATH=str(database),
        PORT=str(port),
        HOST="127.0.0.1",
        INTEGRATION_OWNERS=OWNER,
        # The load generator files thousands of requests from a few dozen people: the
        # per-person limit on open requests (an anti-flood policy) would refuse most of them.
        MAX_PENDING_PER_REQUESTER="10000",
        **extra,
    )


def machine() -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "bot"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        if dirty:
            commit += " (bot/ has uncommitted changes)"
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu_model or platform.processor() or "unknown",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "commit": commit,
        **{
            pkg: version(pkg)
            for pkg in (
                "slack-bolt",
                "slack-sdk",
                "httpx",
                "sqlite-utils",
                "apscheduler",
                "gunicorn",
            )
        },
    }


def snapshot_bot(workdir: Path) -> str:
    """Copy bot/ aside and import it from there, here and in every subprocess.

    The checkout may change while a run is in progress; every measurement of one run must
    see the same code (and the same schema). Returns a short hash of the copied sources.
    Call before anything imports ``bot``.
    """
    global SRC
    if "bot" in sys.modules:
        raise RuntimeError("snapshot_bot() must run before anything imports bot")
    target = workdir / "src"
    shutil.copytree(REPO / "bot", target / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    digest = hashlib.sha256()
    for path in sorted((target / "bot").rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(target)).encode())
            digest.update(path.read_bytes())
    SRC = target
    sys.path.insert(0, str(target))
    return digest.hexdigest()[:12]


# ------------------------------------------------------------------------ processes
def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def status_kb(pid: int, field_name: str = "VmRSS") -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def http_get(url_host: str, port: int, path: str, timeout: float = 1.0) -> int | None:
    conn = http.client.HTTPConnection(url_host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


@dataclass
class Server:
    """A server subprocess (gunicorn arbiter + one worker) on 127.0.0.1:port."""

    name: str
    proc: subprocess.Popen
    port: int
    log_path: Path
    spawned: float  # time.monotonic() just before Popen
    ready_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def wait_ready(self, timeout: float = 60.0, interval: float = 0.01) -> float:
        """Poll ``/healthz`` until 200; returns seconds from spawn to ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log_path}:\n{self.tail()}")
            if http_get("127.0.0.1", self.port, "/healthz", timeout=2.0) == 200:
                self.ready_at = time.monotonic()
                return self.ready_at - self.spawned
            time.sleep(interval)
        raise RuntimeError(
            f"{self.name} not ready in {timeout}s; see {self.log_path}:\n{self.tail()}"
        )

    def worker_pid(self) -> int | None:
        kids = children(self.proc.pid)
        return kids[0] if kids else None

    def rss_mb(self) -> dict[str, float]:
        arbiter = status_kb(self.proc.pid) or 0
        worker_pid = self.worker_pid()
        worker = status_kb(worker_pid) if worker_pid else 0
        peak = status_kb(worker_pid, "VmHWM") if worker_pid else 0
        return {
            "arbiter": arbiter / 1024,
            "worker": (worker or 0) / 1024,
            "worker_peak": (peak or 0) / 1024,
            "total": (arbiter + (worker or 0)) / 1024,
        }

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the arbiter (gunicorn stops its worker); SIGKILL our own pids if stuck."""
        if self.proc.poll() is None:
            worker = self.worker_pid()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                for pid in (worker, self.proc.pid):
                    if pid:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        log = self.extra.get("log_file")
        if log:
            log.close()


def spawn(name: str, argv: list[str], env: dict[str, str], port: int, workdir: Path) -> Server:
    log_path = workdir / f"{name}.log"
    # gunicorn >= 25.1 opens a control socket at $XDG_RUNTIME_DIR/gunicorn.ctl unless told
    # not to: give each server its own directory in case a configuration does not disable it.
    runtime_dir = workdir / f"{name}.run"
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    env = {**env, "XDG_RUNTIME_DIR": str(runtime_dir)}
    log = open(log_path, "ab")  # noqa: SIM115 - closed in Server.stop
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, env=env, cwd=SRC, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    return Server(name, proc, port, log_path, started, extra={"log_file": log})


def spawn_bot(
    name: str,
    workdir: Path,
    *,
    database: Path,
    slack_api_url: str,
    elastic_url: str,
    **extra: str,
) -> Server:
    port = free_port()
    env = bot_env(
        port=port,
        database=database,
        slack_api_url=slack_api_url,
        elastic_url=elastic_url,
        **extra,
    )
    # BENCH_BOT_LAUNCHER=path/to/script.py runs that script instead of ``-m bot`` (with the
    # same arguments), e.g. to profile or instrument the bot without touching bot/.
    launcher = os.environ.get("BENCH_BOT_LAUNCHER")
    head = [PYTHON, str((REPO / launcher).resolve())] if launcher else [PYTHON, "-m", "bot"]
    return spawn(name, [*head, "run", "--mode", "http"], env, port, workdir)


def spawn_baseline(
    name: str, workdir: Path, *, slack_api_url: str, elastic_url: str = ""
) -> Server:
    port = free_port()
    env = clean_env(
        BENCH_PORT=str(port),
        BENCH_SIGNING_SECRET=SIGNING_SECRET,
        BENCH_BOT_TOKEN=BOT_TOKEN,
        BENCH_SLACK_API_URL=slack_api_url,
        BENCH_ELASTIC_URL=elastic_url,
        BENCH_ELASTIC_API_KEY=API_KEY,
    )
    return spawn(name, [PYTHON, "-m", "bench.baseline_app"], env, port, workdir)


# ------------------------------------------------------------------------ Slack payloads
FORM = "application/x-www-form-urlencoded"


def _trigger_id() -> str:
    return f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"


def _payloads():
    """The Slack payload builders, imported at first use: they live in the bot package
    (``bot.standins``), which must be imported only after :func:`snapshot_bot`."""
    from bot.standins import payloads

    return payloads


def command_body(user: str, text: str, response_url: str) -> str:
    payloads = _payloads()
    return payloads.command_body(user, text, response_url=response_url, trigger_id=_trigger_id())


def click_body(user: str, action_id: str, value: str, response_url: str) -> str:
    payloads = _payloads()
    return payloads.interaction_body(
        payloads.block_actions(
            user, action_id, value, response_url=response_url, trigger_id=_trigger_id()
        )
    )


def options_body(user: str, action_id: str, value: str) -> str:
    payloads = _payloads()
    return payloads.interaction_body(payloads.block_suggestion(user, action_id, value, "V0BENCH"))


def sign(body: bytes, secret: str = SIGNING_SECRET) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


# ------------------------------------------------------------------------ load generation
@dataclass
class LoadResult:
    t0: list[float]  # time.monotonic() at send (system-wide clock: comparable across processes)
    latency: list[float]  # seconds, send → full response read
    status: list[int]
    bodies: list[str]
    wall: float

    def ok_latencies(self, skip: int = 0) -> list[float]:
        return [
            lat
            for i, (lat, s) in enumerate(zip(self.latency, self.status, strict=True))
            if i >= skip and s == 200
        ]

    def errors(self, skip: int = 0) -> int:
        return sum(1 for i, s in enumerate(self.status) if i >= skip and s != 200)


def run_load(
    url: str,
    items: Iterable[str],
    *,
    concurrency: int,
    interval: float = 0.0,
    keep_bodies: int = 0,
    timeout: float = 30.0,
) -> LoadResult:
    """Send signed form posts with ``concurrency`` closed-loop clients (bench.loadgen)."""
    spec = {
        "url": url,
        "secret": SIGNING_SECRET,
        "concurrency": concurrency,
        "interval": interval,
        "keep_bodies": keep_bodies,
        "timeout": timeout,
        "items": list(items),
    }
    done = subprocess.run(
        [PYTHON, "-m", "bench.loadgen"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=clean_env(),
        timeout=60 + len(spec["items"]) * (interval + 1.0),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed: {done.stderr[-2000:]}")
    out = json.loads(done.stdout)
    return LoadResult(out["t0"], out["latency"], out["status"], out["bodies"], out["wall"])


def wait_quiet(counters: Iterable[Any], *, quiet: float = 1.5, timeout: float = 180.0) -> float:
    """Wait until every callable in ``counters`` returns the same value for ``quiet`` seconds."""
    fns = list(counters)
    start = time.monotonic()
    last = [f() for f in fns]
    stable_since = time.monotonic()
    while time.monotonic() - start < timeout:
        time.sleep(0.1)
        now = [f() for f in fns]
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet:
            return stable_since - start
    return time.monotonic() - start


def wall_offset() -> float:
    """time.time() - time.monotonic(), to turn monotonic stamps into epoch seconds."""
    return time.time() - time.monotonic()
