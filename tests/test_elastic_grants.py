"""Grants that never hurt: exact revocation, invitations, gone resources, failing calls."""

from __future__ import annotations

import itertools
from datetime import timedelta

import httpx
import pytest

from bot.access.states import State
from bot.standins.slack.text import text_of
from tests.harness import API_KEY, ORG_ID, OWNER, OWNER2, REQUESTER
from tests.slack_view import dms

PROD = "d" * 32
STAGING = "e" * 32
ALICE = "1000000001"
VIEWER_ON_PROD = ("deployment", "deployment-viewer", PROD)


def approve(bot, request_id: int) -> None:
    bot.decide(request_id, OWNER, approve=True)


def ask(bot, text: str, who: str = REQUESTER) -> int:
    """File a request and wait until filing is over: the requester's reply comes after the
    approvers' cards and the channel message, so nothing of the filing races what follows."""
    before = bot.runtime.store.list_requests()[1]
    replies = len(bot.slack.webhook_posts(f"cmd-{who}"))
    assert bot.command(who, f"request {text}").status_code == 200
    bot.slack.wait_for(
        lambda: (
            bot.runtime.store.list_requests()[1] > before
            and len(bot.slack.webhook_posts(f"cmd-{who}")) > replies
        ),
        message=f"request {text}",
    )
    return bot.runtime.store.list_requests(limit=1)[0][0].id


#: The service's undocumented behaviours these tests run under (#18): ``all`` absorbs or
#: keeps, one role per deployment or several, one organization role or several.
SEMANTICS = [
    dict(all_absorbs=a, one_role_per_resource=r, one_organization_role=o)
    for a, r, o in itertools.product([True, False], repeat=3)
]
under_every_semantics = pytest.mark.parametrize(
    "semantics",
    SEMANTICS,
    ids=[
        "-".join(k.split("_")[-1] if v else f"not_{k.split('_')[-1]}" for k, v in m.items())
        for m in SEMANTICS
    ],
)


@under_every_semantics
def test_standing_access_is_never_removed(bot, slack, elastic, semantics):
    elastic.set_semantics(**semantics)
    elastic.add_member(
        "bob@example.com",
        user_id="1000000005",
        role_assignments={
            "deployment": [
                {
                    "role_id": "deployment-viewer",
                    "organization_id": "1234567890",
                    "all": False,
                    "deployment_ids": [PROD],
                }
            ]
        },
    )
    slack.add_user("U0BOB0001", email="bob@example.com", name="bob")
    rid = ask(bot, "prod-search deployment-viewer 1h need it", who="U0BOB0001")
    approve(bot, rid)
    assert bot.state(rid) is State.ACTIVE
    assert elastic.calls_to("POST", "/role_assignments") == []  # nothing to add
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    assert elastic.calls_to("DELETE", "/role_assignments") == []
    assert VIEWER_ON_PROD in elastic.holdings("1000000005")
    assert any("stays" in t for t in dms(slack, "U0BOB0001"))


@under_every_semantics
def test_overlapping_grants_keep_the_role_until_the_last_ends(bot, slack, elastic, semantics):
    elastic.set_semantics(**semantics)
    first = ask(bot, "prod-search deployment-viewer 1h first")
    approve(bot, first)
    bot.advance(timedelta(minutes=30))
    second = ask(bot, "prod-search deployment-viewer 2h second")
    approve(bot, second)
    assert len(elastic.calls_to("POST", "/role_assignments")) == 1
    bot.advance(timedelta(minutes=31))  # the first ends; the second still needs the role
    assert bot.state(first) is State.EXPIRED
    assert VIEWER_ON_PROD in elastic.holdings(ALICE)
    assert elastic.calls_to("DELETE", "/role_assignments") == []
    bot.advance(timedelta(hours=2))
    assert bot.state(second) is State.EXPIRED
    assert VIEWER_ON_PROD not in elastic.holdings(ALICE)
    assert len(elastic.calls_to("DELETE", "/role_assignments")) == 1


@under_every_semantics
def test_organization_all_deployments_and_projects(bot, slack, elastic, semantics):
    elastic.set_semantics(**semantics)
    project = elastic.add_project("elasticsearch", "vector-search")
    bot.runtime.catalogue.refresh()
    cases = [
        ("organization billing-admin", ("organization", "billing-admin", "1234567890")),
        ("all deployment-editor", ("deployment", "deployment-editor", "*")),
        (
            "vector-search elasticsearch-developer",
            ("elasticsearch", "elasticsearch-developer", project),
        ),
    ]
    ids = []
    for text, held in cases:
        rid = ask(bot, f"{text} 1h testing")
        approve(bot, rid)
        assert bot.state(rid) is State.ACTIVE, text
        assert held in elastic.holdings(ALICE), text
        ids.append(rid)
    bot.advance(timedelta(hours=1, seconds=1))
    for (text, held), rid in zip(cases, ids, strict=True):
        assert bot.state(rid) is State.EXPIRED, text
        assert held not in elastic.holdings(ALICE), text
    assert elastic.spec_violations() == []


def test_non_member_is_invited_and_the_pending_invitation_is_withdrawn(bot, slack, elastic):
    slack.add_user("U0NEWBIE1", email="newbie@example.com", name="newbie")
    rid = ask(bot, "prod-search deployment-viewer 2h onboarding", who="U0NEWBIE1")
    slack.wait_for(lambda: any("invitation" in t for t in dms(slack, "U0NEWBIE1")))
    approve(bot, rid)
    assert bot.state(rid) is State.ACTIVE
    [invitation] = elastic.invitations()
    assert invitation["email"] == "newbie@example.com"
    assert invitation["role_assignments"]["deployment"][0]["deployment_ids"] == [PROD]
    sent = elastic.calls_to("POST", "/invitations")[0]["body"]
    assert sent["expires_in"] == "2h"  # never longer than the grant
    assert any("invitation" in t and "newbie@example.com" in t for t in dms(slack, "U0NEWBIE1"))
    bot.advance(timedelta(hours=2, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    assert elastic.invitations() == []
    assert elastic.user_id_for("newbie@example.com") is None
    assert any("withdrawn" in t for t in dms(slack, "U0NEWBIE1"))


def test_accepted_invitation_loses_the_role_and_the_membership_at_expiry(bot, slack, elastic):
    slack.add_user("U0NEWBIE1", email="newbie@example.com", name="newbie")
    rid = ask(bot, "prod-search deployment-viewer 1h onboarding", who="U0NEWBIE1")
    approve(bot, rid)
    user_id = elastic.accept_invitation(elastic.invitations()[0]["token"])
    assert VIEWER_ON_PROD in elastic.holdings(user_id)
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    # The bot's invitation made them a member; with the grant over, they are not one any more.
    assert elastic.user_id_for("newbie@example.com") is None
    assert elastic.calls_to("DELETE", f"/members/{user_id}")
    kinds = [e["kind"] for e in bot.runtime.store.events(rid)]
    assert "elastic_remove" in kinds and "elastic_member_removed" in kinds
    assert any("has been removed" in t for t in dms(slack, "U0NEWBIE1"))
    assert elastic.spec_violations() == []


def test_deleted_deployment_does_not_block_revocation(bot, slack, elastic):
    rid = ask(bot, "staging-logs deployment-editor 1h load test")
    approve(bot, rid)
    elastic.remove_deployment(STAGING)
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    assert bot.request(rid).outcome == "resource_gone"
    assert any("was deleted" in t for t in dms(slack))


def test_stopped_deployment_is_retried_and_owners_alerted_once_then_told_of_recovery(
    bot, slack, elastic
):
    rid = ask(bot, "prod-search deployment-viewer 1h checking")
    approve(bot, rid)
    elastic.set_hidden(PROD, True)
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.REVOKING
    for _ in range(8):  # keep failing for ~8 minutes of bot time
        bot.advance(timedelta(minutes=1))
    alerts = [t for t in dms(slack, OWNER) if "not removed yet" in t]
    assert len(alerts) == 1 and "#1" in alerts[0] and "stopped" in alerts[0]
    elastic.set_hidden(PROD, False)
    bot.advance(timedelta(minutes=15))  # a parked revocation is retried every 15 minutes
    assert bot.state(rid) is State.EXPIRED
    assert VIEWER_ON_PROD not in elastic.holdings(ALICE)
    assert any("has now been removed" in t for t in dms(slack, OWNER))


def test_rate_limits_and_server_errors_are_retried(bot, slack, elastic):
    elastic.script("POST", r"/role_assignments$", 429, headers={"Retry-After": "0"}, times=2)
    elastic.script("GET", r"/members$", 503, times=1)
    rid = ask(bot, "prod-search deployment-viewer 1h retry me")
    approve(bot, rid)
    assert bot.state(rid) is State.ACTIVE
    assert VIEWER_ON_PROD in elastic.holdings(ALICE)
    assert (
        len([c for c in elastic.calls_to("POST", "/role_assignments") if c["status"] == 429]) == 2
    )


def test_ten_minute_outage_delays_but_never_drops_a_revocation(bot, slack, elastic):
    rid = ask(bot, "prod-search deployment-viewer 1h outage drill")
    approve(bot, rid)
    elastic.script("*", r".*", 503, times=10_000)
    bot.advance(timedelta(hours=1, seconds=1))
    for _ in range(10):
        bot.advance(timedelta(minutes=1))
        assert bot.state(rid) is State.REVOKING
    elastic.clear_scripts()
    bot.advance(timedelta(minutes=1, seconds=20))  # the backoff is capped at 60 s plus jitter
    assert bot.state(rid) is State.EXPIRED
    assert VIEWER_ON_PROD not in elastic.holdings(ALICE)


def test_a_refused_grant_fails_cleanly_and_tells_everyone(make_bot, slack, elastic):
    slack.add_channel("C0ACCESS", name="access-log")
    bot = make_bot(integration_owners=[OWNER, OWNER2], notify_channel="C0ACCESS")
    elastic.script(
        "POST",
        r"/role_assignments$",
        403,
        body={
            "errors": [
                {
                    "code": "role_assignments.unauthorized_role_assignments",
                    "message": "You are not authorised.",
                }
            ]
        },
    )
    rid = ask(bot, "prod-search deployment-viewer 1h will fail")
    approve(bot, rid)
    assert bot.state(rid) is State.FAILED
    assert VIEWER_ON_PROD not in elastic.holdings(ALICE)
    failed = [t for t in dms(slack) if "failed" in t]
    assert failed and "unauthorized_role_assignments" in failed[0]
    assert not bot.runtime.store.owned_units(ALICE)
    # Every approver's card now says it failed, and why, without buttons.
    for approver in (OWNER, OWNER2):
        card = slack.wait_for(
            lambda a=approver: [m for m in slack.messages_to(a) if "#1" in text_of(m)]
        )[0]
        slack.wait_for(
            lambda c=card: "Failed" in text_of(slack.message(c["channel"], c["ts"])),
            message=f"{approver}'s card says it failed",
        )
        updated = slack.message(card["channel"], card["ts"])
        assert "unauthorized_role_assignments" in text_of(updated)
        assert not any(b.get("type") == "actions" for b in updated.get("blocks", []))
    # The channel's one message for the request says so too (without the error).
    slack.wait_for(lambda: "failed" in text_of(slack.messages_in("C0ACCESS")[0]).lower())
    assert len(slack.messages_in("C0ACCESS")) == 1


def test_proxy_html_errors_are_reported_readably(bot, slack, elastic):
    elastic.script(
        "POST",
        r"/role_assignments$",
        400,
        raw_body=b"<html><body><h1>400 Bad Gateway Thing</h1></body></html>",
        headers={"Content-Type": "text/html"},
    )
    rid = ask(bot, "prod-search deployment-viewer 1h proxy")
    approve(bot, rid)
    assert bot.state(rid) is State.FAILED
    said = bot.request(rid).last_error
    assert "Elastic Cloud answered with an unexpected page (HTTP 400)" in said
    assert "Bad Gateway Thing" not in said  # whoever runs the proxy wrote that, not Elastic


def test_an_invited_member_who_was_given_other_access_stays_a_member(bot, slack, elastic):
    slack.add_user("U0NEWBIE1", email="newbie@example.com", name="newbie")
    rid = ask(bot, "prod-search deployment-viewer 1h onboarding", who="U0NEWBIE1")
    approve(bot, rid)
    user_id = elastic.accept_invitation(elastic.invitations()[0]["token"])
    # An admin gives the new member standing access of their own, through the API.
    given = httpx.post(
        f"{elastic.url}/api/v1/users/{user_id}/role_assignments",
        json={"organization": [{"role_id": "billing-admin", "organization_id": ORG_ID}]},
        headers={"Authorization": f"ApiKey {API_KEY}"},
    )
    assert given.status_code == 200, given.text
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    assert VIEWER_ON_PROD not in elastic.holdings(user_id)
    assert elastic.user_id_for("newbie@example.com") == user_id
    assert ("organization", "billing-admin", ORG_ID) in elastic.holdings(user_id)
    assert not elastic.calls_to("DELETE", "/members/")


def test_a_malformed_assignment_blocks_neither_grant_nor_revocation(bot, slack, elastic):
    """#13 item 7: ``all: true`` with IDs (the spec forbids it) is logged and read
    conservatively; the member's grant and its revocation go ahead."""
    elastic.add_raw_assignment(
        ALICE,
        "deployment",
        {
            "role_id": "deployment-editor",
            "organization_id": ORG_ID,
            "all": True,
            "deployment_ids": [STAGING],
        },
    )
    rid = ask(bot, "prod-search deployment-viewer 1h malformed neighbour")
    approve(bot, rid)
    assert bot.state(rid) is State.ACTIVE
    assert VIEWER_ON_PROD in elastic.holdings(ALICE)
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    assert VIEWER_ON_PROD not in elastic.holdings(ALICE)
    assert elastic.spec_violations() == []


def test_an_unreadable_listing_never_ends_a_grant_with_the_role_still_held(bot, slack, elastic):
    """Elastic lists the grantee's role assignments in a shape nobody documented (a scope
    that is not a list). Read as "holds nothing", the expiry would record the grant as ended
    and never send the DELETE. It stays revoking and is retried; once the listing reads
    again, the role is removed and the grant ends."""
    rid = ask(bot, "prod-search deployment-viewer 1h odd listing")
    approve(bot, rid)
    assert bot.state(rid) is State.ACTIVE
    elastic.list_assignments_as(ALICE, {"deployment": "all of them"})
    from bot.elastic.errors import ElasticError

    with pytest.raises(ElasticError, match="cannot read"):  # and the bot's read is this one
        bot.runtime.elastic.member(ALICE, max_age=0)
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.REVOKING
    assert "cannot read (deployment is str" in bot.request(rid).last_error
    assert VIEWER_ON_PROD in elastic.holdings(ALICE)
    assert elastic.calls_to("DELETE", "/role_assignments") == []
    elastic.list_assignments_as(ALICE, clear=True)
    assert bot.runtime.elastic.member(ALICE, max_age=0) is not None  # (no 2 s wait for it)
    bot.advance(timedelta(minutes=10))
    assert bot.state(rid) is State.EXPIRED
    assert VIEWER_ON_PROD not in elastic.holdings(ALICE)
    assert len(elastic.calls_to("DELETE", "/role_assignments")) == 1


def test_an_invitation_whose_answer_was_lost_is_adopted_not_sent_twice(bot, slack, elastic):
    """#13 item 4: the invitation POST is never repeated blindly; after a lost answer the
    bot lists the invitations and adopts the one it asked for."""
    from bot.access.invitations import digest

    slack.add_user("U0NEWBIE1", email="newbie@example.com", name="newbie")
    rid = ask(bot, "prod-search deployment-viewer 2h onboarding", who="U0NEWBIE1")
    elastic.lose_reply("POST", "/invitations$", 504)
    approve(bot, rid)
    assert bot.state(rid) is State.ACTIVE
    assert len(elastic.calls_to("POST", "/invitations")) == 1
    [invitation] = elastic.invitations()
    assert bot.runtime.store.get(rid).invitation_hash == digest(invitation["token"])
    bot.advance(timedelta(hours=2, seconds=1))  # the bot's own end withdraws it
    assert bot.state(rid) is State.EXPIRED
    assert elastic.invitations() == []


def test_a_lost_invitation_answer_with_the_list_failing_too_is_adopted_later(bot, slack, elastic):
    slack.add_user("U0NEWBIE1", email="newbie@example.com", name="newbie")
    rid = ask(bot, "prod-search deployment-viewer 2h onboarding", who="U0NEWBIE1")
    elastic.lose_reply("POST", "/invitations$", 502)
    elastic.after(
        "POST", "/invitations$", lambda: elastic.script("GET", "/invitations$", 503, times=10)
    )
    approve(bot, rid)
    assert bot.state(rid) is State.GRANTING  # waits; never FAILED, never a second POST
    elastic.clear_scripts()
    bot.advance(timedelta(minutes=5))
    assert bot.state(rid) is State.ACTIVE
    assert len(elastic.calls_to("POST", "/invitations")) == 1
    assert len(elastic.invitations()) == 1


def test_an_expired_invitation_is_not_pending(bot, slack, elastic):
    """Someone's invitation for the requester expired: it neither blocks the request nor
    counts as the bot's."""
    from bot.elastic.client import ElasticClient

    other = ElasticClient(elastic.url, API_KEY, ORG_ID)
    stale = other.invite("newbie@example.com", [], "1h")
    other.close()
    elastic.expire_invitation(stale)
    slack.add_user("U0NEWBIE1", email="newbie@example.com", name="newbie")
    rid = ask(bot, "prod-search deployment-viewer 1h onboarding", who="U0NEWBIE1")
    assert stale not in bot.runtime.elastic.pending_invitations()
    approve(bot, rid)
    assert bot.state(rid) is State.ACTIVE
    [invitation] = elastic.invitations()
    assert invitation["token"] != stale and not invitation["expired"]
