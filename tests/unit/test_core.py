"""The core's behaviour through its facade (``AccessService``) on in-memory ports.

Each test asserts what a person would notice: what Elastic Cloud holds for the member, what
was removed, who was told what, what the requester or approver is answered. The store is
the real one on SQLite in memory; nothing here opens a socket, a file or a thread (the
``world`` fixture fails a test that starts one)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.access import alerts
from bot.access.errors import AccessError, AlreadyDecided, InvalidRequest, NotAllowed, NotFound
from bot.access.ports import Person, UpstreamError
from bot.access.rules import Rule
from bot.access.states import State
from bot.access.vocabulary import Actor, Outcome
from tests.unit.memory import (
    ALICE,
    ALICE_ELASTIC,
    GUEST,
    OLIVIA,
    OSCAR,
    STAGING_ID,
    START,
    World,
    unit,
)

HOUR = timedelta(hours=1)
VIEWER = unit("deployment-viewer")
BOB = Person("U_BOB", "bob@example.com", "Bob")


# -- filing ------------------------------------------------------------------------------------
def test_a_filed_request_goes_to_the_integration_owners_and_grants_nothing_yet(world: World):
    request = world.file()

    assert request.state is State.PENDING
    assert request.approvers == [OLIVIA.id, OSCAR.id]
    [filed] = world.notifier.of("request_filed")
    assert filed.args["approvers"] == [OLIVIA.id, OSCAR.id]
    assert world.alice_holds() == set()
    assert world.elastic.calls == []


def test_a_guest_is_refused_before_anything_is_stored_or_anyone_asked(world: World):
    with pytest.raises(NotAllowed, match="Guests can't request access"):
        world.file(requester=GUEST.id)

    assert world.store.get(1) is None
    assert world.notifier.told == []


def test_a_requester_slack_cannot_describe_now_is_told_to_try_again(world: World):
    world.directory.down.add(ALICE.id)

    with pytest.raises(AccessError, match="Slack did not answer"):
        world.file()

    assert world.store.get(1) is None


def test_an_email_outside_the_allowed_domains_is_refused(make_world):
    world = make_world(allowed_email_domains=("corp.example",))

    with pytest.raises(NotAllowed, match="outside the allowed domains"):
        world.file()
    assert world.store.get(1) is None


@pytest.mark.parametrize(
    "change,field",
    [
        ({"resource": "no-such-deployment"}, "resource"),
        ({"role": "organization-admin"}, "role"),
        ({"duration": timedelta(hours=13)}, "duration"),
        ({"justification": "  "}, "justification"),
    ],
    ids=["unknown-resource", "wrong-role", "too-long", "no-justification"],
)
def test_an_invalid_request_names_the_field_to_fix(world: World, change, field):
    with pytest.raises(InvalidRequest) as refused:
        world.file(**change)

    assert refused.value.field == field
    assert world.store.get(1) is None


def test_the_same_request_twice_while_the_first_waits_is_answered_with_the_first(world: World):
    first = world.file()

    with pytest.raises(AlreadyDecided, match=f"request {first.ref} is waiting"):
        world.file(duration=2 * HOUR)
    assert len(world.notifier.of("request_filed")) == 1


# -- deciding ----------------------------------------------------------------------------------
def test_approved_the_member_holds_the_role_and_everyone_hears(world: World):
    request = world.granted()

    assert request.state is State.ACTIVE
    assert world.alice_holds() == {VIEWER}
    assert world.notifier.kinds(request.id) == [
        "request_filed",
        "request_decided",
        "request_granted",
    ]
    assert world.expiries == [(request.id, START + HOUR)]


def test_denied_nothing_is_granted_and_the_reason_is_kept(world: World):
    request = world.file()

    denied = world.service.decide(request.id, OSCAR.id, approve=False, reason="use staging")

    assert denied.state is State.DENIED
    assert denied.decided_by == OSCAR.id and denied.decision_reason == "use staging"
    assert world.alice_holds() == set()
    assert world.notifier.kinds(request.id) == ["request_filed", "request_decided"]
    with pytest.raises(AlreadyDecided, match="already denied"):
        world.service.decide(request.id, OLIVIA.id, approve=True)


def test_a_requester_cannot_approve_their_own_request(make_world):
    world = make_world(integration_owners=(ALICE.id, OLIVIA.id))
    request = world.file()
    assert request.approvers == [OLIVIA.id]  # never sent to herself

    with pytest.raises(NotAllowed, match="your own request"):
        world.service.decide(request.id, ALICE.id, approve=True)
    assert world.state(request.id) is State.PENDING
    assert world.alice_holds() == set()


def test_a_second_account_of_the_requester_is_no_approver(make_world):
    second = Person("U_ALICE2", "Alice+ops@example.com", "Alice (ops)")
    world = make_world(integration_owners=(second.id, OLIVIA.id))
    world.directory.add(second)
    request = world.file()

    assert request.approvers == [OLIVIA.id]
    with pytest.raises(NotAllowed):
        world.service.decide(request.id, second.id, approve=True)
    assert world.alice_holds() == set()


def test_someone_the_request_was_not_sent_to_cannot_decide_nor_learn_of_it(world: World):
    world.directory.add(BOB)
    request = world.file()

    with pytest.raises(NotFound):
        world.service.decide(request.id, BOB.id, approve=True)
    assert world.state(request.id) is State.PENDING


def test_a_quorum_of_two_needs_two_people(make_world):
    world = make_world(rules=[Rule(approvals=2)])
    request = world.file()

    once = world.service.decide(request.id, OLIVIA.id, approve=True)
    assert once.state is State.PENDING
    assert world.notifier.kinds(request.id)[-1] == "approval_recorded"
    assert world.alice_holds() == set()

    twice = world.service.decide(request.id, OSCAR.id, approve=True)
    assert twice.state is State.ACTIVE
    assert world.alice_holds() == {VIEWER}


def test_one_approver_clicking_twice_does_not_make_a_quorum_of_two(make_world):
    world = make_world(rules=[Rule(approvals=2)])
    request = world.file()
    world.service.decide(request.id, OLIVIA.id, approve=True)

    with pytest.raises(AlreadyDecided, match="already decided"):
        world.service.decide(request.id, OLIVIA.id, approve=True)
    assert world.state(request.id) is State.PENDING
    assert world.alice_holds() == set()


def test_two_accounts_of_one_approver_count_once_toward_the_quorum(make_world):
    olivia_ops = Person("U_OLIVIA2", "olivia+ops@example.com", "Olivia (ops)")
    world = make_world(
        rules=[Rule(approvals=2)], integration_owners=(OLIVIA.id, olivia_ops.id, OSCAR.id)
    )
    world.directory.add(olivia_ops)
    request = world.file()

    world.service.decide(request.id, OLIVIA.id, approve=True)
    after = world.service.decide(request.id, olivia_ops.id, approve=True)

    assert after.state is State.PENDING
    assert world.alice_holds() == set()
    assert world.service.decide(request.id, OSCAR.id, approve=True).state is State.ACTIVE


def test_approving_for_a_requester_who_became_a_guest_cancels_instead(world: World):
    request = world.file()
    world.directory.add(Person(ALICE.id, ALICE.email, ALICE.name, ineligible="guest"))

    with pytest.raises(AlreadyDecided, match="was cancelled"):
        world.service.decide(request.id, OLIVIA.id, approve=True)
    assert world.state(request.id) is State.CANCELLED
    assert world.alice_holds() == set()
    [left] = world.notifier.of("notify_owners")
    assert isinstance(left.args["alert"], alerts.RequesterLeft)


# -- ending ------------------------------------------------------------------------------------
def test_at_its_end_time_exactly_what_the_grant_added_is_removed(world: World):
    standing = unit("deployment-viewer", STAGING_ID)
    world.elastic.add_member(ALICE.email or "", ALICE_ELASTIC, [standing])
    request = world.granted()
    assert world.alice_holds() == {standing, VIEWER}

    world.pass_time(HOUR)
    world.expire_all()

    assert world.alice_holds() == {standing}
    assert world.elastic.calls[-1] == ("remove_units", (ALICE_ELASTIC, [VIEWER]))
    ended = world.service.get(request.id)
    assert ended.state is State.EXPIRED and ended.outcome == Outcome.REMOVED
    [told] = world.notifier.of("request_ended")
    assert told.args["outcome"] == Outcome.REMOVED


def test_a_timer_that_fires_early_changes_nothing(world: World):
    request = world.granted()

    world.pass_time(HOUR - timedelta(seconds=1))
    world.service.expire(request.id)

    assert world.state(request.id) is State.ACTIVE
    assert world.alice_holds() == {VIEWER}


def test_a_grant_whose_timer_never_fired_ends_with_the_sweep(world: World):
    request = world.granted()
    world.pass_time(HOUR + timedelta(seconds=5))

    assert world.service.work_due() == 1  # one row: worked on this thread

    assert world.state(request.id) is State.EXPIRED
    assert world.alice_holds() == set()


def test_a_grant_over_standing_access_keeps_the_standing_role_at_its_end(world: World):
    world.elastic.add_member(ALICE.email or "", ALICE_ELASTIC, [VIEWER])
    request = world.granted()
    assert not any(call[0] == "add_units" for call in world.elastic.calls)

    world.pass_time(HOUR)
    world.expire_all()

    assert world.alice_holds() == {VIEWER}
    assert not any(call[0] == "remove_units" for call in world.elastic.calls)
    assert world.service.get(request.id).outcome == Outcome.KEPT


def test_overlapping_grants_keep_the_role_until_the_last_one_ends(world: World):
    first = world.granted()
    world.pass_time(timedelta(minutes=10))
    second = world.granted(duration=2 * HOUR)

    world.pass_time(HOUR)
    world.expire_all()
    assert world.state(first.id) is State.EXPIRED
    assert world.alice_holds() == {VIEWER}

    world.pass_time(HOUR)
    world.expire_all()
    assert world.state(second.id) is State.EXPIRED
    assert world.alice_holds() == set()


def test_the_requester_revokes_their_own_grant(world: World):
    request = world.granted()

    revoked = world.service.revoke(request.id, ALICE.id)

    assert revoked.state is State.REVOKED and revoked.ended_by == ALICE.id
    assert world.alice_holds() == set()
    assert world.ended == [request.id]  # the expiry timer is dropped
    assert world.notifier.kinds(request.id)[-1] == "request_ended"


def test_someone_unrelated_cannot_revoke_nor_learn_of_the_grant(world: World):
    world.directory.add(BOB)
    request = world.granted()

    with pytest.raises(NotFound):
        world.service.revoke(request.id, BOB.id)
    assert world.alice_holds() == {VIEWER}


def test_a_requester_who_is_deactivated_loses_their_grant_at_once(world: World):
    request = world.granted()
    world.directory.add(Person(ALICE.id, ALICE.email, ALICE.name, ineligible="deactivated"))

    assert world.service.person_changed(ALICE.id) == 1

    ended = world.service.get(request.id)
    assert ended.state is State.REVOKED and ended.ended_by == Actor.OFFBOARDING
    assert world.alice_holds() == set()
    [left] = world.notifier.of("notify_owners")
    assert left.args["owners"] == [OLIVIA.id, OSCAR.id]


def test_a_leavers_grant_waiting_for_a_retry_is_due_at_once(world: World):
    """A grant whose role assignment failed waits for its retry; if its requester leaves
    meanwhile, the removal is due now (not at that retry time) even when the hand-off to
    the worker is lost: the claim tick finds it at once."""
    world.elastic.fail("add_units", UpstreamError("HTTP 503", retryable=True))
    request = world.granted()
    waiting = world.service.get(request.id)
    assert waiting.state is State.GRANTING and waiting.next_attempt_at is not None
    world.service.on_revoke_due = lambda request_id: None  # the wake-up is lost
    world.directory.add(Person(ALICE.id, ALICE.email, ALICE.name, ineligible="deactivated"))
    assert world.service.person_changed(ALICE.id) == 1
    ending = world.service.get(request.id)
    assert ending.state is State.REVOKING and ending.next_attempt_at is None
    assert request.id in [rid for rid, _ in world.store.due_work(world.clock.now())]


def test_someone_not_yet_a_member_is_invited_and_an_unused_invitation_is_withdrawn(
    world: World,
):
    world.directory.add(BOB)
    request = world.granted(requester=BOB.id)

    assert request.state is State.ACTIVE and request.outcome == Outcome.INVITED
    [(email, units, state)] = world.elastic.invitations.values()
    assert (email, units, state) == (BOB.email, (VIEWER,), "pending")

    world.pass_time(HOUR)
    world.expire_all()

    assert world.elastic.invitations == {}
    ended = world.service.get(request.id)
    assert ended.state is State.EXPIRED and ended.outcome == Outcome.INVITATION_WITHDRAWN


def test_a_policy_that_auto_approves_grants_without_a_click(make_world):
    world = make_world(rules=[Rule(auto_approve=True)])

    request = world.file()

    assert request.state is State.ACTIVE and request.decided_by == Actor.POLICY
    assert world.alice_holds() == {VIEWER}


# -- Elastic refusing or failing -------------------------------------------------------------------
def test_a_passing_elastic_failure_at_grant_time_is_retried_and_then_granted(world: World):
    world.elastic.fail("add_units", UpstreamError("Elastic Cloud answered 503", retryable=True))
    request = world.granted()

    assert request.state is State.GRANTING
    assert world.alice_holds() == set()
    [delayed] = world.notifier.of("grant_delayed")
    assert "503" in delayed.args["error"]

    world.pass_time(timedelta(minutes=2))  # past the first backoff, jitter included
    assert world.service.work_due() == 1

    assert world.state(request.id) is State.ACTIVE
    assert world.alice_holds() == {VIEWER}
    assert world.notifier.kinds(request.id)[-1] == "request_granted"


def test_a_refusal_from_elastic_fails_the_request_and_tells_everyone(world: World):
    world.elastic.fail("add_units", UpstreamError("role_assignment.invalid", retryable=False))
    request = world.granted()

    assert request.state is State.FAILED
    assert "refused the role assignment" in (request.last_error or "")
    assert world.alice_holds() == set()
    assert world.notifier.kinds(request.id)[-1] == "request_failed"
    assert world.store.owned_units(ALICE_ELASTIC) == set()  # nothing left owned for later


def test_a_failed_removal_is_retried_until_the_role_is_gone(world: World):
    request = world.granted()
    world.elastic.fail("remove_units", UpstreamError("Elastic Cloud timed out", retryable=True))

    world.pass_time(HOUR)
    world.expire_all()
    assert world.state(request.id) is State.REVOKING
    assert world.alice_holds() == {VIEWER}
    assert "request_ended" not in world.notifier.kinds(request.id)

    world.pass_time(timedelta(minutes=2))
    assert world.service.work_due() == 1
    assert world.state(request.id) is State.EXPIRED
    assert world.alice_holds() == set()


def test_elastic_unreachable_when_planning_leaves_the_grant_for_the_sweep(world: World):
    request = world.file()
    world.elastic.fail("member", UpstreamError("connection reset", retryable=True))

    world.service.decide(request.id, OLIVIA.id, approve=True)
    assert world.state(request.id) is State.APPROVED
    assert world.alice_holds() == set()
    assert world.notifier.of("grant_delayed")

    world.pass_time(timedelta(minutes=2))
    assert world.service.work_due() == 1
    assert world.state(request.id) is State.ACTIVE
    assert world.alice_holds() == {VIEWER}


def test_elastic_unreachable_at_filing_is_the_requesters_answer_and_nothing_is_stored(
    world: World,
):
    world.elastic.fail("find_member", UpstreamError("connection reset", retryable=True))

    with pytest.raises(UpstreamError):
        world.file()
    assert world.store.get(1) is None
    assert world.notifier.told == []


# -- break-glass -----------------------------------------------------------------------------------
def test_break_glass_grants_at_once_and_alerts_the_owners(make_world):
    world = make_world(rules=[Rule(break_glass=True)])

    request = world.file(break_glass=True, justification="prod is down")

    assert request.state is State.ACTIVE and request.decided_by == Actor.BREAK_GLASS
    assert world.alice_holds() == {VIEWER}
    [alert] = world.notifier.of("notify_owners")
    assert isinstance(alert.args["alert"], alerts.BreakGlassUsed)
    assert alert.args["owners"] == [OLIVIA.id, OSCAR.id]


def test_break_glass_where_policy_does_not_allow_it_is_refused(world: World):
    with pytest.raises(NotAllowed, match="Break-glass is not allowed"):
        world.file(break_glass=True)
    assert world.alice_holds() == set()


def test_break_glass_waits_a_cool_down_between_two(make_world):
    world = make_world(rules=[Rule(break_glass=True)])
    first = world.file(break_glass=True, duration=timedelta(minutes=10))
    world.pass_time(timedelta(minutes=10))
    world.expire_all()
    assert world.state(first.id) is State.EXPIRED

    with pytest.raises(NotAllowed, match="You used break-glass 10m ago"):
        world.file(break_glass=True, resource="staging-logs")

    world.pass_time(timedelta(minutes=50))
    assert world.file(break_glass=True, resource="staging-logs").state is State.ACTIVE


def test_only_so_many_break_glass_grants_are_live_at_once(make_world):
    world = make_world(
        rules=[Rule(break_glass=True)],
        break_glass_max_active=1,
        break_glass_cooldown=timedelta(0),
    )
    world.file(break_glass=True)

    with pytest.raises(NotAllowed, match="1 break-glass grants are live already"):
        world.file(break_glass=True, resource="staging-logs")
    assert world.alice_holds() == {VIEWER}


# -- extensions ------------------------------------------------------------------------------------
def test_an_approved_extension_moves_the_end_and_the_role_stays_until_then(world: World):
    request = world.granted()
    asked = world.service.request_extension(request.id, ALICE.id, 30 * timedelta(minutes=1), "more")
    [sent] = world.notifier.of("extension_requested")
    assert sent.args["approvers"] == [OLIVIA.id, OSCAR.id] and sent.args["needed"] == 1
    assert asked.expires_at == START + HOUR  # not before an approver says so

    extended = world.service.decide_extension(request.id, OSCAR.id, approve=True)

    assert extended.expires_at == START + HOUR + timedelta(minutes=30)
    assert world.expiries[-1] == (request.id, START + HOUR + timedelta(minutes=30))
    [decided] = world.notifier.of("extension_decided")
    assert decided.args["approved"] is True
    world.pass_time(HOUR)
    world.expire_all()
    assert world.alice_holds() == {VIEWER}
    world.pass_time(timedelta(minutes=30))
    world.expire_all()
    assert world.alice_holds() == set()


def test_a_denied_extension_keeps_the_old_end(world: World):
    request = world.granted()
    world.service.request_extension(request.id, ALICE.id, HOUR, "more")

    world.service.decide_extension(request.id, OLIVIA.id, approve=False, reason="not today")

    assert world.service.get(request.id).expires_at == START + HOUR
    [decided] = world.notifier.of("extension_decided")
    assert decided.args["approved"] is False and decided.args["reason"] == "not today"
    world.pass_time(HOUR)
    world.expire_all()
    assert world.alice_holds() == set()


def test_a_requester_cannot_approve_their_own_extension(make_world):
    world = make_world(integration_owners=(ALICE.id, OLIVIA.id))
    request = world.granted()
    world.service.request_extension(request.id, ALICE.id, HOUR, "more")

    with pytest.raises(NotAllowed, match="your own extension"):
        world.service.decide_extension(request.id, ALICE.id, approve=True)
    assert world.service.get(request.id).expires_at == START + HOUR


def test_an_extension_past_the_longest_allowed_is_refused(make_world):
    world = make_world(rules=[Rule(max_duration=2 * HOUR)])
    request = world.granted()

    with pytest.raises(InvalidRequest, match="the maximum is 2h"):
        world.service.request_extension(request.id, ALICE.id, 2 * HOUR, "more")
    assert world.notifier.of("extension_requested") == []


# -- follow-ups, through the sweep (no due rows: no thread pool) -----------------------------------
def test_approvers_who_have_not_acted_are_reminded(world: World):
    request = world.file()
    world.pass_time(HOUR + timedelta(seconds=1))

    world.service.sweep()

    [reminded] = world.notifier.of("remind")
    assert reminded.request_id == request.id
    assert reminded.args["approvers"] == [OLIVIA.id, OSCAR.id]
    assert world.state(request.id) is State.PENDING


def test_a_request_nobody_decides_on_times_out_and_the_requester_hears(world: World):
    request = world.file()
    world.pass_time(timedelta(hours=24, minutes=1))

    world.service.sweep()

    assert world.state(request.id) is State.TIMED_OUT
    assert world.notifier.kinds(request.id)[-1] == "request_decided"
    assert world.alice_holds() == set()
