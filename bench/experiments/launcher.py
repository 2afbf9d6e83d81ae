"""Run the bot with proposed fixes monkeypatched in, to measure them before anyone edits bot/.

Usage (any bench run)::

    BENCH_PATCHES=offload,catalogue BENCH_BOT_LAUNCHER=bench/experiments/launcher.py \\
        .venv/bin/python -m bench.run --only 1,6 --output /tmp/what-if.md

Patches (comma-separated in ``BENCH_PATCHES``):

``offload``
    The slash command listener and the request-id buttons (Approve, Revoke now, extension
    decisions: all registered as ``handle``) run on their own thread; Bolt's listener
    thread returns as soon as ``ack()`` was called. A stand-in for "ack, then hand the work
    to a separate executor": acks stop queueing behind earlier requests' background work.
    (The bot does this itself since commit 189ea6a, ``Runtime.background``; the patch is
    for measuring older trees.)
``catalogue``
    ``ResourceCatalogue.search`` over an index with the lower-cased name, id and label
    computed once per refresh instead of on every keystroke (same results, same order).
``switch``
    ``sys.setswitchinterval(0.001)``: the GIL changes hands every 1 ms instead of 5 ms.
``notify``
    ``Outbox.tell`` in ``bot/access/engine/outbox.py`` (DMs, card updates, App Home) runs on
    one background thread instead of inline, so the next grant's Elastic call does not wait
    for Slack.
``gcfreeze``
    After ``Runtime.start``: ``gc.collect(); gc.freeze()``, so the objects that live for
    the whole process (catalogue, Bolt, models, timers) leave the collector's full passes.
``work2``
    ``Runtime.work`` (the pool listeners hand their slow work to) gets 2 threads instead
    of 8: fewer threads competing with the acknowledging threads for the GIL.
``diag``
    No fix: records every garbage-collector pass (generation, duration) and every sweep's
    duration, written as JSON to ``$BENCH_DIAG_OUT.<pid>`` every 2 s, to explain tails.
``background-catchup``
    ``Runtime.start`` skips its synchronous catch-up sweep (the bot reports ready at once);
    the timers rebuilt for overdue grants fire immediately, and one sweep is queued on the
    scheduler right after start.

Everything else is the real ``python -m bot``; the patches live only in this process.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading

PATCHES = {p.strip() for p in os.environ.get("BENCH_PATCHES", "").split(",") if p.strip()}


def patch_offload() -> None:
    import bot.runtime as runtime_module
    import bot.slack.app as app_module

    original_create = app_module.create_app

    def create_app(runtime, **kwargs):
        app = original_create(runtime, **kwargs)
        for listener in app._listeners:
            if getattr(listener.ack_function, "__name__", "") != "handle":
                continue
            original = listener.ack_function

            def offloaded(_original=original, **call):
                real_ack = call["ack"]
                acked = threading.Event()

                def ack(*args, **kw):
                    try:
                        return real_ack(*args, **kw)
                    finally:
                        acked.set()

                def work():
                    try:
                        _original(**{**call, "ack": ack})
                    finally:
                        acked.set()

                threading.Thread(target=work, daemon=True, name="work").start()
                acked.wait(3)

            # Bolt injects arguments by the names it read from the original at registration.
            listener.ack_function = offloaded
        return app

    app_module.create_app = create_app
    runtime_module.create_app = create_app


def patch_catalogue() -> None:
    from bot.elastic import catalogue as module

    original_swap = module.ResourceCatalogue._swap

    def _swap(self, resources):
        original_swap(self, resources)
        lowered = tuple((r, r.name.lower(), r.id.lower(), r.label.lower()) for r in resources)
        with self._lock:
            self._lowered = lowered

    def search(self, text, limit=100):
        needle = (text or "").strip().lower()
        lowered = getattr(self, "_lowered", None)
        if lowered is None:
            _swap(self, list(self._index.resources))
            lowered = self._lowered
        if not needle:
            return [r for r, *_ in lowered[:limit]]
        starts, contains = [], []
        for r, name, rid, label in lowered:
            if name.startswith(needle) or rid.startswith(needle):
                starts.append(r)
            elif needle in name or needle in label:
                contains.append(r)
            if len(starts) >= limit:
                break
        return (starts + contains)[:limit]

    module.ResourceCatalogue._swap = _swap
    module.ResourceCatalogue.search = search


def patch_notify() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from bot.access.engine.outbox import Outbox

    original_tell = Outbox.tell
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify")

    def tell(self, request):
        pool.submit(original_tell, self, request)

    Outbox.tell = tell


def patch_background_catchup() -> None:
    from bot.runtime import Runtime

    original_start = Runtime.start

    def start(self):
        sweep = self.scheduler.sweep
        self.scheduler.sweep = lambda: 0  # not before ready
        try:
            original_start(self)
        finally:
            self.scheduler.sweep = sweep
        self.scheduler._aps.add_job(sweep, id="catch-up")

    Runtime.start = start


def patch_diag() -> None:
    import gc
    import json
    import time

    from bot.scheduler.jobs import Scheduler

    out = os.environ.get("BENCH_DIAG_OUT") or os.path.join(tempfile.gettempdir(), "bench-diag")
    gcs: list[tuple[int, float, float]] = []  # (generation, started monotonic, seconds)
    sweeps: list[tuple[float, float]] = []
    began: dict[str, float] = {}

    def on_gc(phase, info):
        if phase == "start":
            began["gc"] = time.perf_counter()
        else:
            gcs.append((info["generation"], time.monotonic(), time.perf_counter() - began["gc"]))

    gc.callbacks.append(on_gc)
    original_sweep = Scheduler.sweep

    def sweep(self):
        started = time.perf_counter()
        try:
            return original_sweep(self)
        finally:
            sweeps.append((time.monotonic(), time.perf_counter() - started))

    Scheduler.sweep = sweep

    def dump():
        while True:
            time.sleep(2)
            with open(f"{out}.{os.getpid()}", "w") as f:
                json.dump({"gc": gcs, "sweeps": sweeps}, f)

    from bot.runtime import Runtime

    original_start = Runtime.start

    def start(self):  # in the gunicorn worker: threads started before the fork are gone
        threading.Thread(target=dump, daemon=True).start()
        return original_start(self)

    Runtime.start = start


def patch_gcfreeze() -> None:
    import gc

    from bot.runtime import Runtime

    original_start = Runtime.start

    def start(self):
        result = original_start(self)
        gc.collect()
        gc.freeze()
        return result

    Runtime.start = start


def patch_work2() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from bot.runtime import Runtime

    original_init = Runtime.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.work.shutdown(wait=False)
        self.work = ThreadPoolExecutor(max_workers=2, thread_name_prefix="work")

    Runtime.__init__ = __init__


def main() -> int:
    unknown = PATCHES - {
        "offload",
        "catalogue",
        "switch",
        "notify",
        "background-catchup",
        "diag",
        "gcfreeze",
        "work2",
    }
    if unknown:
        print(f"unknown BENCH_PATCHES: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if "offload" in PATCHES:
        patch_offload()
    if "catalogue" in PATCHES:
        patch_catalogue()
    if "switch" in PATCHES:
        sys.setswitchinterval(0.001)
    if "notify" in PATCHES:
        patch_notify()
    if "background-catchup" in PATCHES:
        patch_background_catchup()
    if "work2" in PATCHES:
        patch_work2()
    if "gcfreeze" in PATCHES:
        patch_gcfreeze()
    if "diag" in PATCHES:
        patch_diag()
    from bot.__main__ import main as bot_main

    return bot_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
