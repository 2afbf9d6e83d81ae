"""A throwaway PostgreSQL server for the tests and benchmarks: the real thing, not a fake.

The tests of the PostgreSQL store and the failover tests need a real server (issue #16).
This starts one in a temporary directory on a free port on 127.0.0.1 from Debian's
PostgreSQL binaries (``initdb``/``pg_ctl`` under ``/usr/lib/postgresql/<version>/bin``),
installing them with ``apt-get`` first when they are missing and we may. PostgreSQL refuses
to run as root, so as root the server runs as the ``postgres`` user.

Standard library only: ``scripts/test`` runs it before the virtualenv exists::

    eval "$(python3 fakes/throwaway_postgres.py start)"   # exports TEST_DATABASE_URL
    python3 fakes/throwaway_postgres.py stop "$THROWAWAY_POSTGRES_DIR"

The tests use :func:`server_url`, which reads ``TEST_DATABASE_URL`` or starts a server of
its own for the session.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: Tuned for tests: nothing here must survive a power cut.
SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=200 -c shared_buffers=64MB"
)


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory, if any."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def install() -> Path | None:
    """Install Debian's PostgreSQL when we are root and apt-get is there (CI machines)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for packages in (["postgresql-15"], ["postgresql"]):
        done = subprocess.run(
            ["apt-get", "install", "-y", "-q", *packages], env=env, capture_output=True
        )
        if done.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
            done = subprocess.run(
                ["apt-get", "install", "-y", "-q", *packages], env=env, capture_output=True
            )
        if done.returncode == 0 and binaries():
            return binaries()
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *args]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(args)]


@dataclass
class Server:
    directory: Path
    port: int
    bin: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        data = str(self.directory / "data")
        return _pg_ctl(self.bin, data, *args)

    def halt(self) -> None:
        """Stop the server but keep its data (a database outage; :meth:`resume` ends it).
        A fast shutdown: it ends every connection, and with ``synchronous_commit=off`` only
        a clean stop keeps the last commits (an immediate one would lose them)."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start the halted server again on the same port."""
        started = _start_on(self.bin, self.directory, self.port)
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start again: {started.stderr.strip()}")

    def stop(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


def _pg_ctl(bin_dir: Path, data: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _as_server_user([str(bin_dir / "pg_ctl"), "-D", data, *args]),
        capture_output=True,
        text=True,
    )


def _start_on(bin_dir: Path, directory: Path, port: int) -> subprocess.CompletedProcess[str]:
    """``pg_ctl start`` on 127.0.0.1:``port``, its socket and log in ``directory``."""
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 {SERVER_OPTIONS}"
    return _pg_ctl(
        bin_dir,
        str(directory / "data"),
        "-l",
        str(directory / "log"),
        "-w",
        "-t",
        "60",
        "-o",
        options,
        "start",
    )


def start() -> Server:
    """Initialise and start a server; raises RuntimeError saying why it could not."""
    bin_dir = binaries() or install()
    if bin_dir is None:
        raise RuntimeError(
            "PostgreSQL is not installed (initdb not found under /usr/lib/postgresql/*/bin) "
            "and could not be installed; install Debian's postgresql package"
        )
    directory = Path(tempfile.mkdtemp(prefix="elastic-access-pg-"))
    directory.chmod(0o755)
    data = directory / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
        shutil.chown(data, "postgres")
    initdb = subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        capture_output=True,
        text=True,
    )
    if initdb.returncode != 0:
        raise RuntimeError(f"initdb failed: {initdb.stderr.strip()[-500:]}")
    for _ in range(5):
        port = _free_port()
        started = _start_on(bin_dir, directory, port)
        if started.returncode == 0:
            return Server(directory, port, bin_dir)
        time.sleep(0.2)  # the port was taken between the probe and the bind: try another
    log = ""
    with contextlib.suppress(OSError):
        log = (directory / "log").read_text()[-800:]
    shutil.rmtree(directory, ignore_errors=True)
    raise RuntimeError(f"PostgreSQL did not start: {started.stderr.strip()} {log}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"]:
        try:
            server = start()
        except RuntimeError as exc:
            print(f"echo 'throwaway PostgreSQL: {exc}' >&2; false")
            return 1
        print(f"export TEST_DATABASE_URL={server.url}")
        print(f"export THROWAWAY_POSTGRES_DIR={server.directory}")
        print(f"export THROWAWAY_POSTGRES_PORT={server.port}")
        print(f"export THROWAWAY_POSTGRES_BIN={server.bin}")
        return 0
    if argv[:1] == ["stop"] and len(argv) == 2:
        bin_dir = Path(os.environ.get("THROWAWAY_POSTGRES_BIN") or binaries() or "/usr/bin")
        Server(Path(argv[1]), 0, bin_dir).stop()
        return 0
    print("usage: throwaway_postgres.py start | stop DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
