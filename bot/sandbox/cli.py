"""The ``sandbox`` subcommand: ``python -m bot sandbox [--port N] [--seed FILE] [--script FILE]``.

Exit codes: 0 (the page was stopped, or every step of the scenario passed), 1 (a step of
the scenario failed), 2 (a seed, policy or scenario file that cannot be used: one line per
problem on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from bot.config import CONFIG_ENV, ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sandbox",
        help="try the bot locally: Slack and Elastic Cloud stand-ins in the browser",
        description="Run the real bot against local stand-ins for Slack and Elastic Cloud, "
        "seeded with a demo organization (or --seed), with the demo policy (or "
        f"{CONFIG_ENV} / --config). Serves a page on 127.0.0.1, or runs --script headless. "
        "Nothing reaches the real Slack or Elastic Cloud.",
    )
    parser.add_argument(
        "--port", type=int, default=8400, help="the page's port on 127.0.0.1 (default 8400; 0: any)"
    )
    parser.add_argument(
        "--seed", type=Path, default=None, help="the organization and people (TOML or JSON)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"the policy file (default: ${CONFIG_ENV}, else the demo policy)",
    )
    parser.add_argument(
        "--script", type=Path, default=None, help="run this scenario (TOML or JSON) and exit"
    )
    parser.set_defaults(func=cmd_sandbox)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox.seed import SeedError, demo_seed, load_seed

    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        seed = load_seed(args.seed) if args.seed else demo_seed()
    except SeedError as exc:
        for line in exc.lines:
            print(f"seed error: {line}", file=sys.stderr)
        return 2
    config = args.config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if config is not None and not config.is_file():
        print(f"config error: {config} is not a readable file", file=sys.stderr)
        return 2
    if args.script is not None:
        return _run_script(args.script, seed, config)
    return _serve(seed, config, args.port)


def _start(seed, config, *, ticking: bool):
    from bot.sandbox.world import World

    world = World(seed, config, ticking=ticking)
    try:
        world.start()
    except ConfigError as exc:
        for line in exc.lines:
            print(f"config error: {line}", file=sys.stderr)
        return None
    return world


def _run_script(path: Path, seed, config) -> int:
    from bot.sandbox.script import Runner, ScriptError, load_script

    try:
        steps = load_script(path)
    except ScriptError as exc:
        print(f"script error: {exc}", file=sys.stderr)
        return 2
    world = _start(seed, config, ticking=False)
    if world is None:
        return 2
    try:
        return Runner(world, sys.stdout).run(steps)
    finally:
        world.stop()


def _serve(seed, config, port: int) -> int:
    from bot.sandbox.web import serve

    world = _start(seed, config, ticking=True)
    if world is None:
        return 2
    try:
        server = serve(world, port)
    except OSError as exc:
        world.stop()
        print(f"error: cannot listen on 127.0.0.1:{port} ({exc.strerror or exc})", file=sys.stderr)
        return 2
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(f"elastic-access-bot sandbox: open {url}", flush=True)
    print("(the real bot, against local stand-ins for Slack and Elastic Cloud; Ctrl-C stops)")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    try:
        done.wait()
    finally:
        server.shutdown()
        server.server_close()
        world.stop()
    return 0
