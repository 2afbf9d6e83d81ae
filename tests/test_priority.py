"""Acks first: work handed off after an ack waits while Slack requests are being answered."""

from __future__ import annotations

import threading

from bot import priority
from bot.access.states import State
from tests.harness import OWNER, REQUESTER


def _run_in_thread(fn) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    def target() -> None:
        fn()
        done.set()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, done


def test_background_work_waits_for_the_request_in_flight(monkeypatch):
    monkeypatch.setattr(priority, "MAX_PAUSE", 30.0)
    with priority.answering():
        _, done = _run_in_thread(priority.background(priority.pause))
        assert not done.wait(0.3), "background work went ahead of an ack in flight"
    assert done.wait(5), "background work did not resume once the ack went out"


def test_background_work_starts_only_once_the_ack_went_out(monkeypatch):
    """The listener hands work off before its own answer is written: it must not race it."""
    monkeypatch.setattr(priority, "MAX_PAUSE", 30.0)
    with priority.answering():
        _, done = _run_in_thread(priority.background(lambda: None))
        assert not done.wait(0.3), "background work started while the ack was in flight"
    assert done.wait(5)


def test_background_work_also_waits_out_a_short_quiet_period(monkeypatch):
    """The next request of a burst is in the server a few ms before it is counted."""
    monkeypatch.setattr(priority, "MAX_PAUSE", 30.0)
    monkeypatch.setattr(priority, "QUIET", 0.5)
    with priority.answering():
        _, done = _run_in_thread(priority.background(priority.pause))
    assert not done.wait(0.2), "background work went ahead right after an answer"
    assert done.wait(5)


def test_other_threads_never_wait(monkeypatch):
    """Revocations run on the scheduler's threads: they must not queue behind acks."""
    monkeypatch.setattr(priority, "MAX_PAUSE", 30.0)
    with priority.answering():
        _, done = _run_in_thread(priority.pause)
        assert done.wait(5)


def test_a_stream_of_requests_slows_background_work_but_never_stops_it(monkeypatch):
    monkeypatch.setattr(priority, "MAX_PAUSE", 0.05)
    with priority.answering():
        _, done = _run_in_thread(priority.background(lambda: [priority.pause() for _ in range(3)]))
        assert done.wait(5)


def test_under_a_stream_of_requests_background_work_goes_one_step_at_a_time(monkeypatch):
    """Four work threads must not all compete with the acks at once."""
    monkeypatch.setattr(priority, "MAX_PAUSE", 0.01)
    steps: list[tuple[str, str]] = []
    lock = threading.Lock()

    def work(name: str):
        def steps_of_work() -> None:
            for _ in range(3):
                priority.pause()
                with lock:
                    steps.append((name, "start"))
                threading.Event().wait(0.03)  # a step's CPU-bound part
                with lock:
                    steps.append((name, "end"))

        return priority.background(steps_of_work)

    with priority.answering():
        threads = [_run_in_thread(work(name)) for name in "abc"]
        assert all(done.wait(10) for _, done in threads), "a work thread was starved"
    # Steps never overlap: every start is followed by its own end.
    assert len(steps) == 18
    for start, end in zip(steps[::2], steps[1::2], strict=True):
        assert start[1] == "start" and end == (start[0], "end")


def test_without_requests_in_flight_background_work_runs_in_parallel(monkeypatch):
    """Grants wait on Elastic Cloud's latency: with nothing to ack they must overlap."""
    monkeypatch.setattr(priority, "MAX_PAUSE", 30.0)
    inside = threading.Barrier(3, timeout=5)

    def step() -> None:
        priority.pause()
        inside.wait()  # all three are between calls at the same time

    threads = [_run_in_thread(priority.background(step)) for _ in range(3)]
    assert all(done.wait(10) for _, done in threads)


def test_every_slack_request_leaves_the_count_when_answered(bot, slack):
    """A request that never left the count would slow all background work for good."""
    bot.command(REQUESTER, "list")
    bot.command(REQUESTER, "request prod-search deployment-viewer 2h incident 4711")
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    bot.click(OWNER, "approve", "1")
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    bot.options(REQUESTER, "resource", "prod")
    bot.post("payload=%7B", "application/x-www-form-urlencoded")  # unreadable
    bot.http.post(  # bad signature: refused by Bolt
        f"{bot.url}/slack/events",
        content=b"command=/elastic-access&text=list",
        headers={"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=00"},
    )
    bot.http.get(f"{bot.url}/healthz")
    bot.runtime.service.drain()
    bot.runtime.work.submit(lambda: None).result(timeout=10)
    assert priority.in_flight() == 0
