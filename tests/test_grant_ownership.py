"""No access outlives its grant (#13): what the bot may have added stays the bot's to remove,
whatever Elastic Cloud answered in between."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from bot.access.resources import Unit
from bot.access.states import State
from bot.standins.slack.text import text_of
from bot.store import semantics as measured
from tests.harness import ORG_ID, OWNER, STRANGER
from tests.test_elastic_grants import ALICE, PROD, STAGING, VIEWER_ON_PROD, approve, ask, dms

FORBIDDEN = {
    "errors": [
        {
            "code": "root.forbidden",
            "message": "You are not allowed to do this.",
        }
    ]
}


def _fail_reads_after_the_write(elastic, status: int, times: int) -> None:
    elastic.after(
        "POST",
        r"/role_assignments$",
        lambda: elastic.script("GET", r"/members$", status, body=FORBIDDEN, times=times),
    )


def test_a_read_failing_right_after_the_role_was_added_keeps_the_grant(bot, slack, elastic):
    """#13 item 2: a 403 on the confirmation read does not disown a role Elastic holds."""
    _fail_reads_after_the_write(elastic, 403, times=1)
    rid = ask(bot, "prod-search deployment-viewer 1h confirm me")
    approve(bot, rid)
    assert bot.state(rid) is State.ACTIVE  # a fresh read showed the role held
    assert VIEWER_ON_PROD in elastic.holdings(ALICE)
    assert not any("Nothing was changed" in t for t in dms(slack))
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    assert VIEWER_ON_PROD not in elastic.holdings(ALICE)


def test_reads_failing_after_the_write_until_the_end_still_remove_the_role(bot, slack, elastic):
    """#13 item 2: a rotated key (every read refused after the write) never turns into
    "failed, nothing was changed": the grant waits, and its end removes what was added."""
    _fail_reads_after_the_write(elastic, 404, times=10_000)
    rid = ask(bot, "prod-search deployment-viewer 1h rotated key")
    approve(bot, rid)
    assert bot.state(rid) is State.GRANTING
    assert VIEWER_ON_PROD in elastic.holdings(ALICE)
    for _ in range(3):
        bot.advance(timedelta(minutes=25))
        assert bot.state(rid) in (State.GRANTING, State.REVOKING)
    assert bot.state(rid) is State.REVOKING  # its time came while it could not be confirmed
    assert Unit("deployment", "deployment-viewer", PROD) in bot.runtime.store.owned_units(ALICE)
    elastic.clear_scripts()
    bot.advance(timedelta(minutes=2))
    assert bot.state(rid) is State.EXPIRED
    assert VIEWER_ON_PROD not in elastic.holdings(ALICE)
    assert not any("Nothing was changed" in t for t in dms(slack))


def test_a_refused_write_says_nothing_changed_only_after_a_fresh_read(bot, slack, elastic):
    """#13 item 2: a refused POST fails the request once a read after it shows no role."""
    elastic.script("POST", r"/role_assignments$", 403, body=FORBIDDEN)
    rid = ask(bot, "prod-search deployment-viewer 1h refused")
    approve(bot, rid)
    assert bot.state(rid) is State.FAILED
    assert VIEWER_ON_PROD not in elastic.holdings(ALICE)
    refused = elastic.calls_to("POST", "/role_assignments")[-1]["time"]
    assert any(c["time"] > refused for c in elastic.calls_to("GET", f"/{ORG_ID}/members"))


def _standing_viewer_on_prod(elastic) -> None:
    elastic.remove_member(ALICE)
    elastic.add_member(
        "alice@example.com",
        user_id=ALICE,
        role_assignments={
            "deployment": [
                {
                    "role_id": "deployment-viewer",
                    "organization_id": ORG_ID,
                    "all": False,
                    "deployment_ids": [PROD],
                }
            ]
        },
    )


def test_standing_access_comes_back_when_the_restore_failed_the_first_time(bot, slack, elastic):
    """#13 item 3: an all-deployments grant absorbed Alice's own viewer role on prod; the
    restore after the DELETE is refused once, and a later pass of the revocation puts it back."""
    _standing_viewer_on_prod(elastic)
    rid = ask(bot, "all deployment-viewer 1h every cluster")
    approve(bot, rid)
    assert ("deployment", "deployment-viewer", "*") in elastic.holdings(ALICE)
    assert VIEWER_ON_PROD not in elastic.holdings(ALICE)  # absorbed by all: true
    elastic.after(
        "DELETE",
        r"/role_assignments$",
        lambda: elastic.script("POST", r"/role_assignments$", 403, body=FORBIDDEN),
    )
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.REVOKING  # the restore was refused: retried
    assert elastic.holdings(ALICE) == set()
    bot.advance(timedelta(minutes=2))
    assert bot.state(rid) is State.EXPIRED
    assert elastic.holdings(ALICE) == {VIEWER_ON_PROD}
    assert len(elastic.calls_to("DELETE", "/role_assignments")) == 1
    assert not bot.runtime.store.owned_units(ALICE)  # standing access is Alice's own


def _invite_newbie(bot, slack, elastic, hours: int = 1) -> int:
    slack.add_user("U0NEWBIE1", email="newbie@example.com", name="newbie")
    rid = ask(bot, f"prod-search deployment-viewer {hours}h onboarding", who="U0NEWBIE1")
    approve(bot, rid)
    assert bot.state(rid) is State.ACTIVE
    return rid


def test_an_invitation_accepted_by_another_email_is_pinned_during_the_grant(bot, slack, elastic):
    """#13 item 1: the accept call takes only the token, so another account may accept; the
    sweep finds the new member holding the invited role and the end removes it (and the
    membership), even after they change their email again."""
    rid = _invite_newbie(bot, slack, elastic)
    token = elastic.invitations()[0]["token"]
    user_id = elastic.accept_invitation(token, email="newbie.personal@example.net")
    bot.advance(timedelta(minutes=1))
    assert bot.request(rid).elastic_user_id == user_id
    assert Unit("deployment", "deployment-viewer", PROD) in bot.runtime.store.owned_units(user_id)
    elastic.change_email(user_id, "someone.else@example.org")
    bot.advance(timedelta(hours=1))
    assert bot.state(rid) is State.EXPIRED
    assert bot.request(rid).outcome == "removed"
    assert user_id not in {m["user_id"] for m in elastic.members()}  # membership taken back
    assert not any("withdrawn" in t for t in dms(slack, "U0NEWBIE1"))


def test_an_invitation_accepted_by_another_email_is_found_at_the_end(bot, slack, elastic):
    """#13 item 1: accepted by another account and not seen by any sweep before the end."""
    rid = _invite_newbie(bot, slack, elastic)
    elastic.add_member("colleague@example.com", user_id="1000000077")  # joins meanwhile
    token = elastic.invitations()[0]["token"]
    user_id = elastic.accept_invitation(token, email="newbie.personal@example.net")
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    assert bot.request(rid).elastic_user_id == user_id
    assert user_id not in {m["user_id"] for m in elastic.members()}
    assert "1000000077" in {m["user_id"] for m in elastic.members()}  # not the bot's to touch


def test_an_invitation_gone_with_nobody_to_find_is_never_called_withdrawn(bot, slack, elastic):
    """#13 item 1: the invitation is no longer listed and no new member holds the role: the
    bot keeps trying and tells the integration owners, never "withdrawn" or "unused"."""
    rid = _invite_newbie(bot, slack, elastic)
    token = elastic.invitations()[0]["token"]
    user_id = elastic.accept_invitation(token, email="newbie.personal@example.net")
    elastic.remove_member(user_id)
    elastic.add_member("newbie.personal@example.net", user_id=user_id)  # lost the role
    elastic.add_member("another@example.org", user_id="1000000078")  # two new members
    bot.advance(timedelta(hours=1, seconds=1))
    for _ in range(3):
        bot.advance(timedelta(minutes=2))
    assert bot.state(rid) is State.REVOKING
    assert bot.request(rid).outcome not in ("invitation_withdrawn", "invitation_unused")
    alerts = [t for t in dms(slack, OWNER) if "no longer pending" in t]
    assert len(alerts) == 1 and "#1" in alerts[0]
    assert not any("withdrawn" in t for t in dms(slack, "U0NEWBIE1"))
    assert {m["user_id"] for m in elastic.members()} >= {user_id, "1000000078"}


def test_the_approver_card_of_a_non_member_says_approving_invites_them(bot, slack, elastic):
    """#13 item 1: approving a non-member's request sends an invitation into the organization."""
    slack.add_user("U0NEWBIE1", email="newbie@example.com", name="newbie")
    ask(bot, "prod-search deployment-viewer 1h onboarding", who="U0NEWBIE1")
    card = slack.wait_for(lambda: [m for m in slack.messages_to(OWNER) if "#1" in text_of(m)])
    assert "approving will invite newbie@example.com into the organization" in text_of(card[0])


def _accepted_invitation(bot, slack, elastic) -> tuple[int, str]:
    rid = _invite_newbie(bot, slack, elastic)
    user_id = elastic.accept_invitation(elastic.invitations()[0]["token"])
    bot.advance(timedelta(minutes=1))
    return rid, user_id


def test_a_member_holding_a_platform_role_keeps_the_membership(bot, slack, elastic):
    """#13 item 6: a scope the bot does not model (platform) still counts as holding."""
    rid, user_id = _accepted_invitation(bot, slack, elastic)
    elastic.add_raw_assignment(user_id, "platform", {"role_id": "platform-viewer"})
    bot.advance(timedelta(hours=1))
    assert bot.state(rid) is State.EXPIRED
    assert VIEWER_ON_PROD not in elastic.holdings(user_id)
    assert user_id in {m["user_id"] for m in elastic.members()}
    assert not elastic.calls_to("DELETE", "/members/")


def test_a_member_holding_a_role_on_an_unknown_project_type_keeps_the_membership(
    bot, slack, elastic
):
    """#13 item 6: a project type the bot does not know still counts as holding."""
    rid, user_id = _accepted_invitation(bot, slack, elastic)
    elastic.add_raw_assignment(
        user_id,
        "project:workplace",
        {"role_id": "workplace-admin", "organization_id": ORG_ID, "all": True},
    )
    bot.advance(timedelta(hours=1))
    assert bot.state(rid) is State.EXPIRED
    assert user_id in {m["user_id"] for m in elastic.members()}
    assert not elastic.calls_to("DELETE", "/members/")


def test_holds_nothing_reads_every_scope():
    from bot.elastic.assignments import holds_nothing

    empty = {"organization": [], "deployment": [], "project": {"elasticsearch": []}}
    assert holds_nothing(empty) and holds_nothing(None) and holds_nothing({})
    assert not holds_nothing(empty | {"platform": [{"role_id": "platform-viewer"}]})
    assert not holds_nothing(empty | {"project": {"workplace": [{"role_id": "x"}]}})
    assert not holds_nothing(empty | {"connected_clusters": [{"id": "c1"}]})
    assert not holds_nothing("garbled")


def _alice_holds(elastic, role_assignments: dict) -> None:
    elastic.remove_member(ALICE)
    elastic.add_member("alice@example.com", user_id=ALICE, role_assignments=role_assignments)


def _believe(bot, **answers: bool) -> None:
    """Record probe answers, as ``python -m bot probe`` does; the bot goes by them at once."""
    measured.record(bot.runtime.db, "probe@example.com", answers, {}, bot.clock.now())


def test_a_role_replaced_on_the_same_deployment_is_restored_after_the_grant(bot, slack, elastic):
    """#13 item 8: with one role per deployment, granting editor replaces Alice's own viewer
    role on prod; when the grant ends the viewer role is put back (and stays hers). The bot
    refuses such a grant unless a probe measured roles kept side by side (#18): here the
    measurement is wrong (or the service changed since), and the restore is the safety net."""
    elastic.one_role_per_resource = True
    _believe(bot, one_role_per_resource=False, one_organization_role=False)
    _alice_holds(
        elastic,
        {
            "deployment": [
                {
                    "role_id": "deployment-viewer",
                    "organization_id": ORG_ID,
                    "all": False,
                    "deployment_ids": [PROD],
                }
            ]
        },
    )
    rid = ask(bot, "prod-search deployment-editor 1h hotfix")
    approve(bot, rid)
    assert bot.state(rid) is State.ACTIVE
    assert elastic.holdings(ALICE) == {("deployment", "deployment-editor", PROD)}
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    assert elastic.holdings(ALICE) == {VIEWER_ON_PROD}
    assert not bot.runtime.store.owned_units(ALICE)  # the viewer role is Alice's own


def test_an_organization_role_replaced_by_a_grant_is_restored(bot, slack, elastic):
    """#13 item 8: one organization role per member: organization-admin granted over Alice's
    own billing-admin role replaces it; her role comes back when the grant ends (the bot
    believed a measurement that said otherwise, #18)."""
    elastic.one_role_per_resource = True
    _believe(bot, one_role_per_resource=False, one_organization_role=False)
    _alice_holds(
        elastic, {"organization": [{"role_id": "billing-admin", "organization_id": ORG_ID}]}
    )
    rid = ask(bot, "organization organization-admin 1h audit")
    approve(bot, rid)
    assert bot.state(rid) is State.ACTIVE
    assert elastic.holdings(ALICE) == {("organization", "organization-admin", ORG_ID)}
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    assert elastic.holdings(ALICE) == {("organization", "billing-admin", ORG_ID)}


def test_a_role_kept_alongside_on_a_multi_role_service_is_left_alone(bot, slack, elastic):
    """#13 item 8: where both roles are kept, nothing is re-added at the end."""
    _believe(bot, one_role_per_resource=False)
    _alice_holds(
        elastic,
        {
            "deployment": [
                {
                    "role_id": "deployment-viewer",
                    "organization_id": ORG_ID,
                    "all": False,
                    "deployment_ids": [PROD],
                }
            ]
        },
    )
    rid = ask(bot, "prod-search deployment-editor 1h hotfix")
    approve(bot, rid)
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    assert elastic.holdings(ALICE) == {VIEWER_ON_PROD}
    assert len(elastic.calls_to("POST", "/role_assignments")) == 1  # the grant only


def _buttons(message: dict) -> list[dict]:
    return [
        element
        for block in message.get("blocks", [])
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


def test_a_revocation_refused_on_a_stopped_deployment_is_parked_and_acknowledged(
    bot, slack, elastic
):
    """#13 item 10: a stopped (hidden) deployment refuses the removal: the owners are alerted
    once with a button, the removal is retried every 15 minutes instead of every minute,
    list shows the grant as parked (not active), an owner's click is recorded as theirs."""
    rid = ask(bot, "prod-search deployment-viewer 1h checking")
    approve(bot, rid)
    elastic.set_hidden(PROD, True)
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.REVOKING
    assert bot.request(rid).parked == "prod-search is stopped; removal retried every 15m"
    for _ in range(10):
        bot.advance(timedelta(minutes=1))
    assert len(elastic.calls_to("DELETE", "/role_assignments")) == 1  # not every minute
    alerts = [m for m in slack.messages_to(OWNER) if "not removed yet" in text_of(m)]
    assert len(alerts) == 1 and "stopped" in text_of(alerts[0])
    assert [b["action_id"] for b in _buttons(alerts[0])] == ["ack_parked"]
    listed = text_of(bot.command(OWNER, "list all").json())
    assert ":parking: *#1*" in listed
    assert "*parked*: prod-search is stopped; removal retried every 15m" in listed
    assert "*active*" not in listed

    bot.click(STRANGER, "ack_parked", str(rid), alerts[0])
    bot.click(OWNER, "ack_parked", str(rid), alerts[0])
    bot.settle()
    acks = [e for e in bot.runtime.store.events(rid) if e["kind"] == "parked_acknowledged"]
    assert [e["actor"] for e in acks] == [OWNER]

    bot.advance(timedelta(minutes=5))
    assert len(elastic.calls_to("DELETE", "/role_assignments")) == 2  # 15 minutes on
    assert len([m for m in slack.messages_to(OWNER) if "not removed yet" in text_of(m)]) == 1
    elastic.set_hidden(PROD, False)
    bot.advance(timedelta(minutes=15))
    assert bot.state(rid) is State.EXPIRED
    assert bot.request(rid).parked is None
    assert VIEWER_ON_PROD not in elastic.holdings(ALICE)
    assert any("has now been removed" in t for t in dms(slack, OWNER))


def test_app_home_shows_a_parked_grant_as_parked_not_active():
    """#13 item 10: App Home lists a parked grant apart from the active ones."""
    from datetime import UTC, datetime

    from bot.access.model import AccessRequest
    from bot.access.resources import Resource, ResourceKind
    from bot.slack.blocks import home_view

    now = datetime(2026, 12, 2, tzinfo=UTC)
    parked = AccessRequest(
        id=7,
        requester_id="U0ALICE",
        requester_email="alice@example.com",
        resource=Resource(ResourceKind.DEPLOYMENT, PROD, "prod-search"),
        role_id="deployment-viewer",
        duration=timedelta(hours=1),
        justification="x",
        state=State.REVOKING,
        created_at=now,
        expires_at=now,
        parked="prod-search is stopped; removal retried every 15m",
    )
    view = home_view(active=[], pending=[], to_approve=[], now=now, parked=[parked])
    texts = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    assert any(":parking: parked: prod-search is stopped" in t and "#7" in t for t in texts)
    assert not any("left (ends" in t for t in texts)


def _assign_by_hand(elastic, user_id: str, role_assignments: dict) -> None:
    """What the grantee does with their admin role: add roles through the API themselves."""
    import httpx

    from tests.harness import API_KEY

    given = httpx.post(
        f"{elastic.url}/api/v1/users/{user_id}/role_assignments",
        json=role_assignments,
        headers={"Authorization": f"ApiKey {API_KEY}"},
    )
    assert given.status_code == 200, given.text


ADMIN_ON_ALL = {
    "deployment": [{"role_id": "deployment-admin", "organization_id": ORG_ID, "all": True}]
}


def test_roles_that_appeared_during_an_organization_owner_grant_are_reported(bot, slack, elastic):
    """#13 item 11: Alice, organization owner for an hour, made herself admin of every
    deployment; when the grant ends the owners hear what appeared (once), and the bot removes
    only the organization role it added. Her standing viewer role is not reported."""
    _standing_viewer_on_prod(elastic)
    rid = ask(bot, "organization organization-admin 1h audit")
    approve(bot, rid)
    _assign_by_hand(elastic, ALICE, ADMIN_ON_ALL)
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    assert elastic.holdings(ALICE) == {VIEWER_ON_PROD, ("deployment", "deployment-admin", "*")}
    reports = [t for t in dms(slack, OWNER) if "did not hold before" in t]
    assert len(reports) == 1
    assert "#1" in reports[0] and "`deployment-admin` on all deployments" in reports[0]
    assert "deployment-viewer" not in reports[0]
    ended = [e for e in bot.runtime.store.events(rid) if e["kind"] == "expired"]
    assert ended[0]["detail"]["appeared"] == ["deployment|deployment-admin|*"]
    bot.advance(timedelta(minutes=5))
    assert len([t for t in dms(slack, OWNER) if "did not hold before" in t]) == 1


def test_roles_appearing_during_a_viewer_grant_are_not_reported(bot, slack, elastic):
    """#13 item 11: only admin grants can give their holder more; a viewer grant's end says
    nothing about roles someone else gave the member meanwhile."""
    rid = ask(bot, "prod-search deployment-viewer 1h look")
    approve(bot, rid)
    _assign_by_hand(elastic, ALICE, ADMIN_ON_ALL)
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    assert not [t for t in dms(slack, OWNER) if "did not hold before" in t]


# -- #18: right under every plausible semantics ------------------------------------------------
#: (all absorbs, one role per deployment, one organization role)
COMBINATIONS = list(itertools.product([True, False], repeat=3))


def _covered(wanted: set, held: set) -> bool:
    """Each wanted (kind, role, target) is held, directly or through ``all`` of its role."""
    return all(h in held or (h[0], h[1], "*") in held for h in wanted)


@pytest.mark.parametrize("probed", [False, True], ids=["assumed-safest", "probed"])
@pytest.mark.parametrize(
    "absorbs,replace,one_org",
    COMBINATIONS,
    ids=[
        f"{'absorb' if a else 'keep'}-{'replace' if r else 'union'}-{'oneorg' if o else 'orgunion'}"
        for a, r, o in COMBINATIONS
    ],
)
def test_standing_access_and_live_grants_survive_under_every_semantics(
    bot, slack, elastic, absorbs, replace, one_org, probed
):
    """Alice holds viewer on prod and billing-admin. Grants of viewer on all deployments and
    on staging overlap; editor on prod and organization-admin would replace her own roles
    where the service keeps one role per resource: refused there (and refused before a probe
    says otherwise), granted where it keeps both. At every end her own roles and the live
    grant's role are held; at the last, exactly her own roles and nothing the bot owns."""
    elastic.set_semantics(
        all_absorbs=absorbs, one_role_per_resource=replace, one_organization_role=one_org
    )
    if probed:
        _believe(
            bot, all_absorbs=absorbs, one_role_per_resource=replace, one_organization_role=one_org
        )
    _alice_holds(
        elastic,
        {
            "organization": [{"role_id": "billing-admin", "organization_id": ORG_ID}],
            "deployment": [
                {
                    "role_id": "deployment-viewer",
                    "organization_id": ORG_ID,
                    "all": False,
                    "deployment_ids": [PROD],
                }
            ],
        },
    )
    own = elastic.holdings(ALICE)
    wide = ask(bot, "all deployment-viewer 2h wide")
    approve(bot, wide)
    staging = ask(bot, "staging-logs deployment-viewer 1h staging")
    approve(bot, staging)
    editor = ask(bot, "prod-search deployment-editor 1h hotfix")
    approve(bot, editor)
    owner = ask(bot, "organization organization-admin 1h audit")
    approve(bot, owner)
    assert bot.state(wide) is State.ACTIVE and bot.state(staging) is State.ACTIVE
    for rid, replaces in ((editor, replace), (owner, one_org)):
        if replaces or not probed:
            assert bot.state(rid) is State.FAILED
            why = bot.runtime.store.get(rid).last_error
            assert "one role per member" in why and "cannot be sure to put back" in why
        else:
            assert bot.state(rid) is State.ACTIVE
    if not probed:  # the requester reads why, and how an integration owner lifts it
        bot.settle()
        assert any("one role per member" in t and "bot probe" in t for t in dms(slack))
    assert _covered(own, elastic.holdings(ALICE))
    assert ("deployment", "deployment-viewer", "*") in elastic.holdings(ALICE)
    bot.advance(timedelta(hours=1, seconds=1))  # staging, editor and owner end
    held = elastic.holdings(ALICE)
    assert _covered(own, held) and ("deployment", "deployment-viewer", "*") in held
    assert ("deployment", "deployment-editor", PROD) not in held
    assert ("organization", "organization-admin", ORG_ID) not in held
    bot.advance(timedelta(hours=1))
    assert bot.state(wide) is State.EXPIRED and bot.state(staging) is State.EXPIRED
    assert elastic.holdings(ALICE) == own
    assert not bot.runtime.store.owned_units(ALICE)
    assert ("deployment", "deployment-viewer", STAGING) not in elastic.holdings(ALICE)
