"""Who may act, tried the way someone inside the workspace would try to get around it.

Each test names a behaviour of issue #12 ("Trust boundary"), items 2–7 and 11, and asserts what
people would notice: what Elastic holds, what was stored, who was messaged and what they saw.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.access.identity import canonical_email, same_person
from bot.access.ports import Person
from bot.access.states import State
from bot.standins.slack.text import text_of
from tests.harness import OWNER, OWNER2, REQUESTER, STRANGER
from tests.slack_view import buttons, cards

DEPLOYMENT = "d" * 32
STAGING = "e" * 32
ALICE = "1000000001"
EMAIL_OWNER = {"tag_key": "owner", "attribute": "email"}
VIEWER = ("deployment", "deployment-viewer", DEPLOYMENT)


def button_value(message, action_id: str) -> str:
    """The value Slack sends back for a button of ``message`` (as the bot wrote it)."""
    return next(
        e["value"]
        for b in message.get("blocks", [])
        if b.get("type") == "actions"
        for e in b["elements"]
        if e.get("action_id") == action_id
    )


def dms_saying(slack, user, needle):
    return [m for m in slack.messages_to(user) if needle in text_of(m)]


def replies(slack, name):
    return [p["text"] for p in slack.webhook_posts(name)]


def last_reply(slack, name, count=1):
    return slack.wait_for(
        lambda: len(slack.webhook_posts(name)) >= count and slack.webhook_posts(name),
        message=f"reply {count} on {name}",
    )[-1]["text"]


def stored(bot) -> int:
    return bot.runtime.store.list_requests()[1]


def user_change(bot, user_id: str, event_id: str = "Ev-change-1"):
    """The ``user_change`` event Slack sends when an admin changes someone, signed."""
    body = {
        "type": "event_callback",
        "team_id": "T0001",
        "api_app_id": "A0APP",
        "event_id": event_id,
        "event_time": 1,
        "event": {"type": "user_change", "user": {"id": user_id, "deleted": True}},
    }
    response = bot.post(json.dumps(body), "application/json")
    assert response.status_code == 200


def pending(bot, slack, text="request prod-search deployment-viewer 1h INC-1 slow queries"):
    """File request #1 and wait for its reply (which comes after the approvers' cards)."""
    before = len(slack.webhook_posts(f"cmd-{REQUESTER}"))
    bot.command(REQUESTER, text)
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    assert "#1" in last_reply(slack, f"cmd-{REQUESTER}", count=before + 1)


def active(bot, slack):
    pending(bot, slack)
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)


# -- 2. full members of the installing workspace only ------------------------------------------
NOT_MEMBERS = {
    "guest": ({"is_restricted": True}, "Guests can't request access"),
    "single-channel guest": ({"is_ultra_restricted": True}, "Guests can't request access"),
    "Slack Connect user": (
        {"team_id": "T0OTHERORG", "is_stranger": True},
        "other organizations (Slack Connect) can't request access",
    ),
    "Slack Connect user without is_stranger": (
        {"team_id": "T0OTHERORG"},
        "other organizations (Slack Connect) can't request access",
    ),
    "unconfirmed email": (
        {"is_email_confirmed": False},
        "email address is not confirmed can't request access",
    ),
    "deactivated user": ({"deleted": True}, "Deactivated Slack users can't request access"),
    "bot": ({"is_bot": True}, "Bots and apps can't request access"),
}


@pytest.mark.parametrize("who", sorted(NOT_MEMBERS))
def test_someone_not_a_full_member_is_told_why_and_nothing_happens(make_bot, slack, elastic, who):
    fields, told = NOT_MEMBERS[who]
    slack.set_user(REQUESTER, **fields)
    bot = make_bot(integration_owners=[OWNER])
    said = bot.say(REQUESTER, "request staging-logs deployment-viewer 1h INC-1 need logs")
    assert told in said
    assert stored(bot) == 0
    assert cards(slack, OWNER) == [] and slack.messages_to(OWNER) == []
    assert elastic.invitations() == []
    assert elastic.calls_to("POST", "/role_assignments") == []


def test_a_guest_cannot_break_glass(make_bot, slack, elastic):
    slack.set_user(REQUESTER, is_restricted=True)
    bot = make_bot(
        integration_owners=[OWNER],
        policy=[{"roles": ["deployment-admin"], "break_glass": True}, {"roles": ["*"]}],
    )
    said = bot.say(REQUESTER, "break-glass prod-search deployment-admin 1h prod is down")
    assert "Guests can't request access" in said
    assert stored(bot) == 0
    assert ("deployment", "deployment-admin", DEPLOYMENT) not in elastic.holdings(ALICE)


def test_a_guest_integration_owner_gets_no_card_and_cannot_approve(make_bot, slack, elastic):
    slack.set_user(OWNER2, is_restricted=True)
    bot = make_bot(integration_owners=[OWNER, OWNER2])
    pending(bot, slack, "request staging-logs deployment-viewer 1h INC-1 need logs")
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    assert cards(slack, OWNER2) == []
    assert bot.request(1).approvers == [OWNER]
    bot.click(OWNER2, "approve", "1", card)  # a forwarded card, clicked by the guest
    said = last_reply(slack, f"click-{OWNER2}")
    assert "not found, or is not yours" in said
    assert bot.state(1) is State.PENDING
    assert elastic.holdings(ALICE) == set()


def test_an_approver_made_a_guest_after_filing_can_no_longer_approve(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER, OWNER2])
    pending(bot, slack, "request staging-logs deployment-viewer 1h INC-1 need logs")
    card = slack.wait_for(lambda: cards(slack, OWNER2))[0]
    slack.set_user(OWNER2, is_restricted=True)
    bot.click(OWNER2, "approve", "1", card)
    assert "Guests can't approve" in last_reply(slack, f"click-{OWNER2}")
    assert bot.state(1) is State.PENDING
    assert elastic.holdings(ALICE) == set()


def test_an_owner_tag_naming_only_guests_falls_back_and_is_reported_once(make_bot, slack, elastic):
    slack.set_user(OWNER, is_restricted=True)  # prod-search's owner tag names owner1@
    bot = make_bot(integration_owners=[STRANGER], resource_owner=EMAIL_OWNER)
    pending(bot, slack)
    slack.wait_for(lambda: cards(slack, STRANGER))
    assert cards(slack, OWNER) == []
    assert bot.request(1).approver_source == "integration_owner"
    report = slack.wait_for(lambda: dms_saying(slack, STRANGER, "owner1@example.com"))
    assert "guest" in text_of(report[0])
    bot.command(REQUESTER, "request prod-search deployment-editor 1h INC-2 another")
    slack.wait_for(lambda: len(cards(slack, STRANGER)) == 2)
    assert len(dms_saying(slack, STRANGER, "owner1@example.com")) == 1


def test_a_guest_auditor_sees_only_their_own_requests(make_bot, slack, elastic):
    slack.set_user(STRANGER, is_restricted=True)
    bot = make_bot(integration_owners=[OWNER], auditors=[STRANGER])
    pending(bot, slack, "request staging-logs deployment-viewer 1h INC-1 need logs")
    said = bot.say(STRANGER, "list all")
    assert "#1" not in said


def test_requesters_outside_the_allowed_email_domains_are_refused(make_bot, slack, elastic):
    slack.add_user("U0CONTRACT", email="carl@contractor.example", name="carl")
    bot = make_bot(integration_owners=[OWNER], allowed_email_domains=["example.com"])
    said = bot.say("U0CONTRACT", "request staging-logs deployment-viewer 1h INC-1 need logs")
    assert "outside the allowed domains" in said and "example.com" in said
    assert stored(bot) == 0
    assert elastic.invitations() == [] and slack.messages_to(OWNER) == []
    # Someone in the domain is served as before.
    assert "#1" in bot.say(REQUESTER, "request staging-logs deployment-viewer 1h INC-1 logs")


def test_allowed_email_domains_must_be_domains(tmp_path, monkeypatch):
    from bot.config import ConfigError, load_settings

    (tmp_path / "c.toml").write_text('allowed_email_domains = ["example.com", "not a domain"]\n')
    monkeypatch.setenv("ELASTIC_ACCESS_CONFIG", str(tmp_path / "c.toml"))
    with pytest.raises(ConfigError, match="allowed_email_domains"):
        load_settings(
            slack_bot_token="xoxb-1",
            slack_signing_secret="s",
            elastic_cloud_api_key="k",
            elastic_cloud_organization_id="1",
        )


# -- 3. separation of duties per person, not per account ---------------------------------------
def test_canonical_email_drops_case_and_sub_address():
    assert canonical_email("Alice+ops@Example.COM") == "alice@example.com"
    assert canonical_email("alice@example.com") == canonical_email("ALICE+x+y@example.com")
    assert canonical_email("alice@example.com") != canonical_email("alicia@example.com")
    assert canonical_email(None) == "" and canonical_email("no-at-sign") == ""


def test_same_person_by_account_mailbox_or_elastic_user():
    me = Person("U1", "alice@example.com", "alice")
    assert same_person(me, "U1", None)
    assert same_person(Person("U2", "Alice+ops@example.com", "a2"), "U1", "alice@example.com")
    assert not same_person(Person("U2", "bob@example.com", "bob"), "U1", "alice@example.com")
    # Two addresses that lead to the same Elastic Cloud user are one person.
    elastic = {"alice.personal@example.net": "E1", "bob@example.com": "E2"}
    other_mailbox = Person("U3", "alice.personal@example.net", "a3")
    assert same_person(other_mailbox, "U1", "alice@example.com", "E1", elastic.get)
    assert not same_person(
        Person("U4", "bob@example.com", "bob"), "U1", "alice@example.com", "E1", elastic.get
    )


def test_a_second_account_of_the_requester_gets_no_card_and_is_refused(make_bot, slack, elastic):
    slack.add_user("U0ALICEOPS", email="alice+ops@example.com", name="alice-ops")
    bot = make_bot(integration_owners=[OWNER, "U0ALICEOPS"])
    pending(bot, slack, "request staging-logs deployment-viewer 1h INC-1 need logs")
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    assert cards(slack, "U0ALICEOPS") == []
    assert bot.request(1).approvers == [OWNER]
    bot.click("U0ALICEOPS", "approve", "1", card)
    said = last_reply(slack, "click-U0ALICEOPS")
    assert "your own request" in said
    assert bot.state(1) is State.PENDING and elastic.holdings(ALICE) == set()


def test_a_second_account_that_was_an_approver_at_filing_cannot_count(make_bot, slack, elastic):
    """The requester's other account was an approver when filed (its email changed since)."""
    slack.add_user("U0ALICEOPS", email="ops-team@example.com", name="alice-ops")
    bot = make_bot(
        integration_owners=[OWNER, OWNER2, "U0ALICEOPS"],
        policy=[{"roles": ["*"], "approvals": 2}],
    )
    pending(bot, slack, "request staging-logs deployment-viewer 1h INC-1 need logs")
    card = slack.wait_for(lambda: cards(slack, "U0ALICEOPS"))[0]
    slack.set_user("U0ALICEOPS", email="Alice+Ops@example.com")
    bot.click("U0ALICEOPS", "approve", "1", card)
    assert "your own request" in last_reply(slack, "click-U0ALICEOPS")
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: any(e["kind"] == "approval" for e in bot.runtime.store.events(1)))
    assert bot.state(1) is State.PENDING  # one real approval of the two needed
    assert elastic.holdings(ALICE) == set()


def test_a_quorum_is_rechecked_against_the_current_approvers_when_it_completes(
    make_bot, slack, elastic
):
    bot = make_bot(
        integration_owners=[OWNER, OWNER2, STRANGER],
        policy=[{"roles": ["*"], "approvals": 2}],
    )
    pending(bot, slack, "request staging-logs deployment-viewer 1h INC-1 need logs")
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: any(e["kind"] == "approval" for e in bot.runtime.store.events(1)))
    slack.set_user(OWNER, is_restricted=True)  # the first approver is no longer one
    bot.click(OWNER2, "approve", "1", card)
    slack.wait_for(
        lambda: len([e for e in bot.runtime.store.events(1) if e["kind"] == "approval"]) == 2
    )
    assert bot.state(1) is State.PENDING
    assert elastic.holdings(ALICE) == set()
    bot.click(STRANGER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    approved = [e for e in bot.runtime.store.events(1) if e["kind"] == "approved"][0]
    assert sorted(approved["detail"]["approvers"]) == sorted([OWNER2, STRANGER])


# -- 4. authority from data others can edit ---------------------------------------------------
def test_a_group_handle_in_an_email_owner_tag_names_nobody(make_bot, slack, elastic):
    slack.add_usergroup("S0SRE", "sre-leads", [OWNER2])
    bot = make_bot(integration_owners=[STRANGER], resource_owner=EMAIL_OWNER)
    elastic.add_deployment("ops-box", tags={"owner": "@sre-leads"})
    bot.runtime.catalogue.refresh()
    bot.command(REQUESTER, "request ops-box deployment-viewer 1h INC-1 need it")
    slack.wait_for(lambda: cards(slack, STRANGER))
    assert cards(slack, OWNER2) == []
    report = slack.wait_for(lambda: dms_saying(slack, STRANGER, "sre-leads"))
    assert "not an email address" in text_of(report[0])


def test_a_user_id_in_an_email_owner_tag_names_nobody(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[STRANGER], resource_owner=EMAIL_OWNER)
    elastic.add_deployment("ops-box", tags={"owner": OWNER2})
    bot.runtime.catalogue.refresh()
    bot.command(REQUESTER, "request ops-box deployment-viewer 1h INC-1 need it")
    slack.wait_for(lambda: cards(slack, STRANGER))
    assert cards(slack, OWNER2) == []


def test_editing_the_owner_tag_never_adds_an_approver_and_is_reported(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[STRANGER], resource_owner=EMAIL_OWNER)
    pending(bot, slack)  # prod-search: owner1@ (OWNER)
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    # Someone with access to the deployment retags it to a friend.
    elastic.edit_deployment(DEPLOYMENT, tags={"owner": "owner2@example.com"})
    bot.runtime.catalogue.refresh()
    alert = slack.wait_for(lambda: dms_saying(slack, STRANGER, "tag changed"))[0]
    assert "owner1@example.com" in text_of(alert) and "owner2@example.com" in text_of(alert)
    assert "#1" in text_of(alert)
    bot.click(OWNER2, "approve", "1", card)  # the new owner, who was not asked
    assert "not an approver" in last_reply(slack, f"click-{OWNER2}")
    # And the old owner lost their say with the tag.
    bot.click(OWNER, "approve", "1", card)
    assert "no longer an approver" in last_reply(slack, f"click-{OWNER}")
    assert bot.state(1) is State.PENDING and elastic.holdings(ALICE) == set()


def test_renaming_a_resource_with_an_active_grant_is_reported(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER])
    active(bot, slack)
    elastic.edit_deployment(DEPLOYMENT, name="prod-search-new")
    bot.runtime.catalogue.refresh()
    alert = slack.wait_for(lambda: dms_saying(slack, OWNER, "name changed"))[0]
    assert "prod-search-new" in text_of(alert) and "#1" in text_of(alert)


def test_a_change_to_a_resource_without_open_requests_is_not_reported(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER])
    elastic.edit_deployment(STAGING, name="staging-logs-2", tags={"owner": "x@example.com"})
    assert bot.runtime.service.resources_changed([]) == 0
    bot.runtime.catalogue.refresh()
    assert bot.runtime.catalogue.find("staging-logs-2") is not None
    assert dms_saying(slack, OWNER, "changed") == []


# -- 5. leavers --------------------------------------------------------------------------------
def test_a_deactivated_requester_loses_their_grant_at_once_on_user_change(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER])
    active(bot, slack)
    bot.command(REQUESTER, "request staging-logs deployment-viewer 1h INC-2 more")
    slack.wait_for(lambda: bot.state(2) is State.PENDING)
    assert VIEWER in elastic.holdings(ALICE)
    slack.set_user_deleted(REQUESTER)
    user_change(bot, REQUESTER)
    slack.wait_for(lambda: bot.state(1) is State.REVOKED and bot.state(2) is State.CANCELLED)
    assert VIEWER not in elastic.holdings(ALICE)
    ended = bot.request(1)
    assert ended.ended_by == "offboarding"
    [event] = [e for e in bot.runtime.store.events(1) if e["kind"] == "revoke_requested"]
    assert event["actor"] == "system" and "deactivated" in event["detail"]["reason"]
    cancelled = bot.request(2)
    assert "deactivated" in cancelled.decision_reason
    # The integration owners are told, and the approver's card of #2 no longer has buttons.
    alert = slack.wait_for(lambda: dms_saying(slack, OWNER, "so I ended"))[0]
    assert "#1" in text_of(alert) and "#2" in text_of(alert)
    slack.wait_for(
        lambda: (
            all("approve" not in buttons(m) for m in slack.messages_to(OWNER))
            and "cancelled" in text_of(slack.messages_to(OWNER)[-2]).lower()
        )
    )


def test_a_user_change_for_someone_still_a_member_changes_nothing(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER])
    active(bot, slack)
    user_change(bot, REQUESTER)  # e.g. a new display name
    # Wait for the background work to have looked the user up, then check nothing moved.
    slack.wait_for(lambda: len(slack.calls_to("users.info")) >= 1)
    bot.runtime.work.submit(lambda: None).result()
    bot.runtime.service.drain()
    assert bot.state(1) is State.ACTIVE and VIEWER in elastic.holdings(ALICE)


def test_the_sweep_ends_the_grant_of_a_requester_made_a_guest_without_an_event(
    make_bot, slack, elastic
):
    bot = make_bot(integration_owners=[OWNER], requester_recheck="5m")
    active(bot, slack)
    bot.advance(timedelta(minutes=6))  # a first look: still a member
    assert bot.state(1) is State.ACTIVE
    slack.set_user(REQUESTER, is_restricted=True)
    bot.runtime.directory.invalidate()
    bot.advance(timedelta(minutes=1))  # not due yet: looked at a minute ago
    assert bot.state(1) is State.ACTIVE
    bot.advance(timedelta(minutes=5))
    slack.wait_for(lambda: bot.state(1) is State.REVOKED)
    assert VIEWER not in elastic.holdings(ALICE)
    assert (
        "guest"
        in [e for e in bot.runtime.store.events(1) if e["kind"] == "revoke_requested"][0]["detail"][
            "reason"
        ]
    )


def test_a_requester_deactivated_before_the_approval_is_not_granted(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER])
    pending(bot, slack)
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    slack.set_user_deleted(REQUESTER)
    bot.click(OWNER, "approve", "1", card)
    said = last_reply(slack, f"click-{OWNER}")
    assert "cancelled" in said and "deactivated" in said
    assert bot.state(1) is State.CANCELLED
    assert elastic.holdings(ALICE) == set()
    assert elastic.calls_to("POST", "/role_assignments") == []
    slack.wait_for(lambda: dms_saying(slack, OWNER, "so I ended"))


def test_a_requester_deactivated_while_the_grant_waits_is_not_granted(make_bot, slack, elastic):
    """The approval was recorded, then the grant waited (Elastic refused for a while); the
    requester left meanwhile: the retry does not grant, and ends the request."""
    bot = make_bot(integration_owners=[OWNER])
    pending(bot, slack)
    elastic.script("POST", "/role_assignments", status=503, times=50)
    bot.decide(1, OWNER, approve=True)
    assert bot.state(1) is State.GRANTING
    elastic.clear_scripts()
    slack.set_user_deleted(REQUESTER)
    bot.runtime.directory.invalidate()
    bot.advance(timedelta(minutes=5))
    slack.wait_for(lambda: bot.state(1) is State.REVOKED)
    assert elastic.holdings(ALICE) == set()
    assert bot.request(1).outcome == "never_granted"
    assert not dms_saying(slack, REQUESTER, "Access granted")


def test_the_manifest_subscribes_to_user_change():
    from bot.manifest import bot_events, load_manifest

    assert "user_change" in bot_events(load_manifest())


# -- 6. break-glass is never silent, and bounded ---------------------------------------------
BREAK_GLASS = [{"roles": ["deployment-admin"], "break_glass": True}, {"roles": ["*"]}]


def test_break_glass_is_refused_when_nobody_else_would_be_told(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[REQUESTER], policy=BREAK_GLASS)
    said = bot.say(REQUESTER, "break-glass prod-search deployment-admin 1h prod is down")
    assert "nobody but you would be told" in said
    assert stored(bot) == 0
    assert ("deployment", "deployment-admin", DEPLOYMENT) not in elastic.holdings(ALICE)


def test_break_glass_with_a_notify_channel_is_not_silent(make_bot, slack, elastic):
    slack.add_channel("C0ACCESS", "access-log")
    bot = make_bot(integration_owners=[REQUESTER], policy=BREAK_GLASS, notify_channel="C0ACCESS")
    bot.say(REQUESTER, "break-glass prod-search deployment-admin 1h prod is down")
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    slack.wait_for(lambda: slack.messages_in("C0ACCESS"))


def test_break_glass_has_a_per_person_cooldown(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER], policy=BREAK_GLASS, break_glass_cooldown="2h")
    bot.say(REQUESTER, "break-glass prod-search deployment-admin 30m prod is down")
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    bot.advance(timedelta(hours=1))
    said = bot.say(REQUESTER, "break-glass staging-logs deployment-admin 30m again")
    assert "used break-glass 1h ago" in said and "1h from now" in said
    assert stored(bot) == 1
    bot.advance(timedelta(hours=1, minutes=1))
    bot.say(REQUESTER, "break-glass staging-logs deployment-admin 30m again")
    slack.wait_for(lambda: bot.state(2) is State.ACTIVE)


def test_break_glass_grants_live_at_once_are_capped(make_bot, slack, elastic):
    slack.add_user("U0BOB", email="owner1@example.com", name="bob")  # an Elastic member
    bot = make_bot(integration_owners=[OWNER2], policy=BREAK_GLASS, break_glass_max_active=1)
    bot.say(REQUESTER, "break-glass prod-search deployment-admin 1h prod is down")
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    said = bot.say("U0BOB", "break-glass staging-logs deployment-admin 1h me too")
    assert "1 break-glass grants are live already" in said
    assert stored(bot) == 1


def test_check_warns_about_auto_approve_or_break_glass_on_organization_roles(tmp_path):
    from bot.config import Settings

    settings = Settings(
        slack_bot_token="xoxb-1",
        slack_signing_secret="s",
        elastic_cloud_api_key="k",
        elastic_cloud_organization_id="1",
        integration_owners=["U0OWNER01"],
        policy=[
            {"name": "oncall", "resources": ["*"], "roles": ["*"], "break_glass": True},
            {"name": "viewers", "resources": ["deployment:*"], "auto_approve": True},
        ],
    )
    warnings = settings.access_policy().warnings()
    assert any("oncall" in w and "break_glass" in w and "organization" in w for w in warnings)
    assert not any("viewers" in w for w in warnings)


# -- 7. floods ---------------------------------------------------------------------------------
def test_a_request_already_open_is_answered_with_its_number(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER])
    pending(bot, slack)
    slack.wait_for(lambda: cards(slack, OWNER))
    said = bot.say(REQUESTER, "request prod-search deployment-viewer 2h INC-1 other words")
    assert "already asked for this" in said and "#1" in said
    assert stored(bot) == 1 and len(cards(slack, OWNER)) == 1


def test_open_requests_per_person_are_capped(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER], max_pending_per_requester=2)
    pending(bot, slack)
    bot.command(REQUESTER, "request prod-search deployment-editor 1h INC-2 second")
    slack.wait_for(lambda: bot.state(2) is State.PENDING)
    assert "#2" in last_reply(slack, f"cmd-{REQUESTER}", count=2)
    said = bot.say(REQUESTER, "request staging-logs deployment-viewer 1h INC-3 third")
    assert "2 requests waiting" in said and "most allowed at once is 2" in said
    assert stored(bot) == 2
    slack.wait_for(lambda: len(cards(slack, OWNER)) == 2)
    assert len(cards(slack, OWNER)) == 2


# -- 11. say less to those who may not know ----------------------------------------------------
def test_extend_or_revoke_by_someone_else_does_not_say_who_filed_it(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER])
    active(bot, slack)
    for text in ("extend 1 1h mine now", "revoke 1", "extend 99 1h nothing", "revoke 99"):
        said = bot.say(STRANGER, text)
        assert "not found, or is not yours" in said, text
        assert REQUESTER not in said and "alice" not in said.lower()
    assert bot.state(1) is State.ACTIVE and VIEWER in elastic.holdings(ALICE)


def test_an_integration_owner_may_revoke_but_not_after_becoming_a_guest(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER, OWNER2])
    active(bot, slack)
    slack.set_user(OWNER2, is_restricted=True)
    said = bot.say(OWNER2, "revoke 1")
    assert "Only the requester, an approver or an integration owner" in said
    assert bot.state(1) is State.ACTIVE
    said = bot.say(OWNER, "revoke 1")
    slack.wait_for(lambda: bot.state(1) is State.REVOKED)
    assert VIEWER not in elastic.holdings(ALICE)


def test_a_guest_cannot_open_the_form_or_browse_resource_names(make_bot, slack, elastic):
    slack.set_user(STRANGER, is_restricted=True)
    bot = make_bot(integration_owners=[OWNER])
    said = bot.say(STRANGER, "")
    assert "Guests can't request access" in said
    assert slack.calls_to("views.open") == []
    options = bot.options(STRANGER, "resource", "prod").json()
    assert options == {"options": []}
    # A full member gets the names.
    names = json.dumps(bot.options(REQUESTER, "resource", "prod").json()["options"])
    assert "prod-search" in names


def test_limits_count_per_human_not_per_slack_account(make_bot, slack, elastic):
    slack.add_user("U0ALICE2", email="Alice+two@example.com", name="alice-two")
    bot = make_bot(integration_owners=[OWNER], policy=BREAK_GLASS, break_glass_cooldown="2h")
    pending(bot, slack)
    said = bot.say(
        "U0ALICE2", "request prod-search deployment-viewer 1h INC-1 from my other account"
    )
    assert "already asked for this" in said and "#1" in said
    bot.say(REQUESTER, "break-glass staging-logs deployment-admin 30m prod is down")
    slack.wait_for(lambda: bot.state(2) is State.ACTIVE)
    said = bot.say("U0ALICE2", "break-glass prod-search deployment-admin 30m again")
    assert "used break-glass" in said
    assert stored(bot) == 2


def test_a_requester_slack_no_longer_knows_loses_their_grant(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER])
    active(bot, slack)
    slack.remove_user(REQUESTER)  # users.info: user_not_found, not an outage
    bot.runtime.directory.invalidate()
    bot.advance(timedelta(minutes=6))
    slack.wait_for(lambda: bot.state(1) is State.REVOKED)
    assert VIEWER not in elastic.holdings(ALICE)


def test_an_old_extension_card_cannot_approve_a_later_extension(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER])
    active(bot, slack)
    end = bot.request(1).expires_at
    assert "sent for approval" in bot.say(REQUESTER, "extend 1 30m a little more")
    first = slack.wait_for(lambda: cards(slack, OWNER, "approve_extension"))[0]
    assert button_value(first, "deny_extension").startswith("1:")
    bot.click(OWNER, "deny_extension", button_value(first, "deny_extension"), first)
    slack.wait_for(lambda: bot.request(1).extension_seconds is None)
    assert "sent for approval" in bot.say(REQUESTER, "extend 1 4h much more, other reason")
    second = slack.wait_for(
        lambda: [m for m in cards(slack, OWNER, "approve_extension") if m["ts"] != first["ts"]]
    )[0]
    # A click on the first card (as it was sent: say Slack lost its update) must not
    # approve the second request, which its approver has not seen.
    bot.click(OWNER, "approve_extension", button_value(first, "approve_extension"), first)
    assert "earlier extension" in last_reply(slack, f"click-{OWNER}")
    assert bot.request(1).expires_at == end and bot.request(1).extension_seconds == 4 * 3600
    bot.click(OWNER, "approve_extension", button_value(second, "approve_extension"), second)
    slack.wait_for(lambda: bot.request(1).expires_at == end + timedelta(hours=4))


# -- failures are not facts ----------------------------------------------------------------
def test_a_slack_outage_while_filing_files_nothing_and_is_not_remembered(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER])
    slack.script("users.info", 200, {"ok": False, "error": "internal_error"}, times=20)
    said = bot.say(REQUESTER, "request staging-logs deployment-viewer 1h INC-1 need logs")
    assert "Slack did not answer" in said and "email" not in said
    assert stored(bot) == 0 and slack.messages_to(OWNER) == []
    slack.clear_scripts()
    # The failure was not cached as a fact about the requester: the next try works.
    assert "#1" in bot.say(REQUESTER, "request staging-logs deployment-viewer 1h INC-1 need logs")


def test_an_outage_resolving_an_owner_tag_is_not_reported_as_a_bad_tag(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[STRANGER], resource_owner=EMAIL_OWNER)
    slack.script("users.lookupByEmail", 200, {"ok": False, "error": "internal_error"}, times=20)
    said = bot.say(REQUESTER, "request prod-search deployment-viewer 1h INC-1 need it")
    assert "#1" not in said and stored(bot) == 0
    slack.clear_scripts()
    pending(bot, slack)
    slack.wait_for(lambda: cards(slack, OWNER))  # the owner by tag, not the fallback
    assert bot.request(1).approver_source == "resource_owner"
    assert dms_saying(slack, STRANGER, "does not resolve") == []


def test_an_outage_checking_a_click_records_nothing(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER])
    pending(bot, slack)
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    slack.script("users.info", 200, {"ok": False, "error": "internal_error"}, times=20)
    bot.click(OWNER, "approve", "1", card)
    assert "did not answer" in last_reply(slack, f"click-{OWNER}")
    assert bot.state(1) is State.PENDING and bot.runtime.store.approvals(1) == []
    slack.clear_scripts()
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)


def test_the_leaver_recheck_is_spread_over_sweeps(make_bot, slack, elastic):
    """A pass over many requesters looks up a bounded batch per sweep (Slack's rate limit),
    and still reaches everyone."""
    from bot.access.engine.leavers import RECHECK_BATCH

    bot = make_bot(integration_owners=[OWNER], max_pending_per_requester=1)
    people = [f"U0MANY{i:02d}" for i in range(RECHECK_BATCH + 5)]
    for user in people:
        slack.add_user(user, email=f"{user.lower()}@example.com")
        bot.file_request(
            user, "staging-logs", "deployment-viewer", timedelta(hours=1), "INC-1 load"
        )
    slack.set_user_deleted(people[-1])
    bot.runtime.directory.invalidate()
    leavers = bot.runtime.service.core.leavers
    bot.clock.advance(timedelta(minutes=6))  # a pass is due (the start-up sweep made one)
    looked = len(slack.calls_to("users.info"))
    assert leavers.recheck_requesters() == 0  # the first batch: the leaver is not in it
    assert len(slack.calls_to("users.info")) - looked <= RECHECK_BATCH
    assert leavers.recheck_requesters() == 1  # the rest of the pass
    assert bot.request(len(people)).state is State.CANCELLED


def test_an_approver_removed_from_the_owner_group_can_no_longer_revoke(make_bot, slack, elastic):
    slack.add_usergroup("S0SRE", "sre-leads", [OWNER, OWNER2])
    bot = make_bot(
        integration_owners=[STRANGER],
        resource_owner={"tag_key": "owner", "attribute": "slack_usergroup"},
    )
    elastic.add_deployment("payments", tags={"owner": "sre-leads"})
    bot.runtime.catalogue.refresh()
    bot.command(REQUESTER, "request payments deployment-viewer 1h INC-1 need it")
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    slack.set_usergroup_users("S0SRE", [OWNER])  # OWNER2 leaves the group
    said = bot.say(OWNER2, "revoke 1")
    assert "Only the requester, an approver or an integration owner" in said
    assert bot.state(1) is State.ACTIVE
    bot.say(OWNER, "revoke 1")  # still an owner
    slack.wait_for(lambda: bot.state(1) is State.REVOKED)


def test_a_forged_request_body_is_not_written_to_the_log(bot, caplog):
    import logging

    from bot.standins import payloads

    body = payloads.command_body(
        REQUESTER,
        "request prod-search deployment-admin 1h forged",
        response_url="https://hooks.slack.example/commands/SECRET-RESPONSE-URL",
        trigger_id="1.2.3",
    )
    with caplog.at_level(logging.INFO):
        response = bot.http.post(
            f"{bot.url}/slack/events",
            content=body.encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                **payloads.sign(body, "not-the-secret"),
            },
        )
    assert response.status_code == 401
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Invalid request signature detected" in logged
    assert "SECRET-RESPONSE-URL" not in logged and "forged" not in logged
