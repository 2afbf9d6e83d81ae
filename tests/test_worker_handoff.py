"""The front end only records; the worker grants (#15: the database is the work queue).

An approval's lazy part writes the decision and tells people; the Elastic calls behind the
grant run on the worker's grant threads (``Scheduler.grant_soon``), which claim the approved
row like any due work. These tests hold Elastic's answer back and look at what the approver
sees meanwhile, and at what happens when the process that took the click cannot grant."""

from __future__ import annotations

import threading

from bot.access.states import State
from bot.standins.slack.text import text_of
from tests.harness import OWNER, REQUESTER
from tests.slack_view import buttons, cards

DEPLOYMENT = "d" * 32
ALICE = "1000000001"


def _card(slack, user):
    return slack.wait_for(lambda: cards(slack, user), message="approval card")[0]


def test_the_approval_is_recorded_and_shown_while_elastic_is_still_answering(bot, slack, elastic):
    """A slow Elastic never holds up the click: the card says who approved and the click's
    own work is over before the role assignment has been answered."""
    release = threading.Event()
    real_add = bot.runtime.elastic.add_units
    granting_threads: list[str] = []

    def slow_add(user_id, units):
        granting_threads.append(threading.current_thread().name)
        assert release.wait(20), "the test never released the grant"
        return real_add(user_id, units)

    bot.runtime.elastic.add_units = slow_add  # type: ignore[method-assign]
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-7 slow elastic")
    card = _card(slack, OWNER)
    assert bot.click(OWNER, "approve", "1", card).status_code == 200
    slack.wait_for(lambda: granting_threads, message="the grant under way")
    slack.wait_for(
        lambda: any("Approved by" in text_of(m) for m in slack.messages_to(OWNER)),
        message="the card updated while the grant waits on Elastic",
    )
    assert bot.state(1) is State.GRANTING
    # The click's work is done: the Bolt threads and the work pool are idle, only the
    # worker's grant waits on Elastic.
    assert not any(t.startswith(("work", "slack_bolt")) for t in granting_threads)
    assert ("deployment", "deployment-viewer", DEPLOYMENT) not in elastic.holdings(ALICE)
    release.set()
    bot.settle()
    assert bot.state(1) is State.ACTIVE
    assert ("deployment", "deployment-viewer", DEPLOYMENT) in elastic.holdings(ALICE)
    assert len(elastic.calls_to("POST", "/role_assignments")) == 1


def test_an_approval_whose_hand_off_was_lost_is_granted_by_the_claim_tick(bot, slack, elastic):
    """The hand-off is only a wake-up: if it never runs (the process died right after
    recording the click), the approved row is due work, and a claim tick grants it once."""
    bot.runtime.service.on_grant_due = lambda request_id: None  # the wake-up is lost
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-8 lost wake-up")
    card = _card(slack, OWNER)
    assert bot.click(OWNER, "approve", "1", card).status_code == 200
    bot.settle()
    assert bot.state(1) is State.APPROVED
    assert elastic.calls_to("POST", "/role_assignments") == []
    bot.runtime.scheduler.claim_due()
    bot.settle()
    assert bot.state(1) is State.ACTIVE
    assert ("deployment", "deployment-viewer", DEPLOYMENT) in elastic.holdings(ALICE)
    bot.runtime.scheduler.claim_due()  # a second tick finds nothing to do
    bot.settle()
    assert len(elastic.calls_to("POST", "/role_assignments")) == 1
    granted = [m for m in slack.messages_to(REQUESTER) if "granted" in text_of(m).lower()]
    assert len(granted) == 1, [text_of(m) for m in slack.messages_to(REQUESTER)]


def test_a_hand_off_the_scheduler_refuses_is_no_error_for_the_approver(bot, slack, elastic):
    """The scheduler refusing the job (a full queue, a scheduler shutting down) is not the
    approver's problem: the approval is recorded and shown, nobody sees an error, and a
    claim tick grants the row."""
    real_add_job = bot.runtime.scheduler._aps.add_job

    def refusing(func, *args, **kwargs):
        if kwargs.get("executor") == "grants":
            raise RuntimeError("scheduler refused the job")
        return real_add_job(func, *args, **kwargs)

    bot.runtime.scheduler._aps.add_job = refusing
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-8 refused job")
    assert bot.click(OWNER, "approve", "1", _card(slack, OWNER)).status_code == 200
    bot.settle()
    assert bot.state(1) is State.APPROVED
    slack.wait_for(
        lambda: any("Approved by" in text_of(m) for m in slack.messages_to(OWNER)),
        message="the card says who approved",
    )
    said = [p["text"] for p in slack.webhook_posts(f"click-{OWNER}")]
    assert not any("went wrong" in t.lower() for t in said), said
    bot.runtime.scheduler._aps.add_job = real_add_job
    bot.runtime.scheduler.claim_due()
    bot.settle()
    assert bot.state(1) is State.ACTIVE
    assert len(elastic.calls_to("POST", "/role_assignments")) == 1


def _grant_dm(slack):
    return slack.wait_for(
        lambda: [m for m in slack.messages_to(REQUESTER) if "revoke_now" in buttons(m)],
        message="the grant DM",
    )[0]


def _active(bot, slack, why: str) -> None:
    """Request #1, approved and granted."""
    bot.command(REQUESTER, f"request prod-search deployment-viewer 1h INC-9 {why}")
    bot.click(OWNER, "approve", "1", _card(slack, OWNER))
    bot.settle()
    assert bot.state(1) is State.ACTIVE


def test_revoke_now_is_recorded_at_once_and_the_worker_removes_the_role(bot, slack, elastic):
    """The click ends the grant in the database and answers; the DELETE runs on the
    worker's revocation threads, and the requester is told once it is done."""
    _active(bot, slack, "revoke drill")
    release = threading.Event()
    real_remove = bot.runtime.elastic.remove_units
    removing_threads: list[str] = []

    def slow_remove(user_id, units):
        removing_threads.append(threading.current_thread().name)
        assert release.wait(20), "the test never released the removal"
        return real_remove(user_id, units)

    bot.runtime.elastic.remove_units = slow_remove  # type: ignore[method-assign]
    assert bot.click(REQUESTER, "revoke_now", "1", _grant_dm(slack)).status_code == 200
    said = slack.wait_for(
        lambda: slack.webhook_posts(f"click-{REQUESTER}"), message="the click's answer"
    )[-1]["text"]
    assert "being removed now" in said, said
    slack.wait_for(lambda: removing_threads, message="the removal under way")
    assert bot.state(1) is State.REVOKING and bot.request(1).ended_by == REQUESTER
    assert not any(t.startswith(("work", "slack_bolt")) for t in removing_threads)
    release.set()
    bot.settle()
    assert bot.state(1) is State.REVOKED
    assert ("deployment", "deployment-viewer", DEPLOYMENT) not in elastic.holdings(ALICE)
    assert len(elastic.calls_to("DELETE", "/role_assignments")) == 1
    ended = [m for m in slack.messages_to(REQUESTER) if "revoked" in text_of(m).lower()]
    assert len(ended) == 1, [text_of(m) for m in slack.messages_to(REQUESTER)]


def test_a_revocation_whose_hand_off_was_lost_is_finished_by_the_claim_tick(bot, slack, elastic):
    _active(bot, slack, "lost removal")
    bot.runtime.service.on_revoke_due = lambda request_id: None  # the wake-up is lost
    bot.revoke(1, REQUESTER)
    assert bot.state(1) is State.REVOKING
    assert ("deployment", "deployment-viewer", DEPLOYMENT) in elastic.holdings(ALICE)
    bot.runtime.scheduler.claim_due()
    bot.settle()
    assert bot.state(1) is State.REVOKED
    assert ("deployment", "deployment-viewer", DEPLOYMENT) not in elastic.holdings(ALICE)
    assert len(elastic.calls_to("DELETE", "/role_assignments")) == 1


def test_a_leavers_grant_is_removed_by_the_worker_not_by_the_event_listener(bot, slack, elastic):
    """A deactivated requester's grant ends at once in the database when ``user_change``
    arrives; the DELETE runs on the worker's threads, as for Revoke now, so a front end
    that takes Slack's events makes no change in Elastic itself."""
    from tests.test_trust_boundary import user_change

    _active(bot, slack, "leaver drill")
    release = threading.Event()
    real_remove = bot.runtime.elastic.remove_units
    real_changed = bot.runtime.service.person_changed
    removing: list[str] = []
    rechecking: list[str] = []

    def slow_remove(user_id, units):
        removing.append(threading.current_thread().name)
        assert release.wait(20), "the test never released the removal"
        return real_remove(user_id, units)

    def changed(user_id):
        rechecking.append(threading.current_thread().name)
        return real_changed(user_id)

    bot.runtime.elastic.remove_units = slow_remove  # type: ignore[method-assign]
    bot.runtime.service.person_changed = changed  # type: ignore[method-assign]
    slack.set_user_deleted(REQUESTER)
    user_change(bot, REQUESTER)
    slack.wait_for(lambda: removing, message="the removal under way")
    # Ended on the record before Elastic answered, by the system, for the leaver.
    assert bot.state(1) is State.REVOKING and bot.request(1).ended_by == "offboarding"
    assert rechecking and removing[0] not in rechecking, (removing, rechecking)
    assert not removing[0].startswith(("work", "bolt", "slack_bolt")), removing
    release.set()
    bot.settle()
    assert bot.state(1) is State.REVOKED
    assert ("deployment", "deployment-viewer", DEPLOYMENT) not in elastic.holdings(ALICE)
    assert len(elastic.calls_to("DELETE", "/role_assignments")) == 1
