"""Issue #14 §1, stack roles, as people see them over signed Slack requests against the real
bot and the Elastic emulator: a project's custom roles offered under their own names and
granted as the viewer role with ``application_roles``; console-only admin roles
(``application_roles: []``); ``stack_roles`` for deployments from policy; removal of exactly
the entry added; refusals beside a role the member holds; the roles endpoint failing; and
attempts to name a role that is not the project's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.access.states import State
from bot.config import PolicyRuleConfig
from bot.elastic.client import ElasticClient, RetryPolicy
from bot.elastic.errors import ElasticError
from bot.standins.slack.text import text_of
from tests.harness import API_KEY, ORG_ID, OWNER, REQUESTER
from tests.slack_view import cards

SEARCH_PROD, SEARCH_DEV = "a" * 32, "b" * 32
ALICE = "1000000001"
MARKETING = {
    "role_id": "elasticsearch-viewer",
    "organization_id": ORG_ID,
    "all": False,
    "project_ids": [SEARCH_PROD],
    "application_roles": ["marketing-reader"],
}


def projects(elastic) -> None:
    elastic.add_project(
        "elasticsearch",
        "search-prod",
        project_id=SEARCH_PROD,
        roles=["marketing-reader", "Team_Writer", "evil role", "x<!here>"],
    )
    elastic.add_project("elasticsearch", "search-dev", project_id=SEARCH_DEV, roles=["dev-writer"])


def reseat_alice(elastic, role_assignments) -> None:
    """Alice (the requester's Elastic account) with ``role_assignments`` as standing access."""
    elastic.remove_member(ALICE)
    elastic.add_member("alice@example.com", user_id=ALICE, role_assignments=role_assignments)


def started(make_bot, elastic, **settings):
    projects(elastic)
    bot = make_bot(**settings)
    bot.runtime.catalogue.refresh()
    return bot


def writes(elastic) -> list[dict]:
    return elastic.calls_to("POST", "/role_assignments") + elastic.calls_to(
        "DELETE", "/role_assignments"
    )


def approve(bot, slack, n: int = 1) -> None:
    card = slack.wait_for(lambda: len(cards(slack, OWNER)) >= n and cards(slack, OWNER))[n - 1]
    bot.click(OWNER, "approve", str(n), card)
    slack.wait_for(lambda: bot.state(n) is State.ACTIVE)
    bot.settle()


def option_labels(bot, query):
    response = bot.options(REQUESTER, "resource", query)
    assert response.status_code == 200
    return [o["text"]["text"] for o in response.json()["options"]]


def nothing_happened(bot, slack, elastic) -> None:
    bot.settle()
    assert bot.runtime.store.list_requests()[1] == 0
    assert cards(slack, OWNER) == []
    assert writes(elastic) == []


# -- offered under their own names ---------------------------------------------------------------


def test_the_type_ahead_form_and_help_offer_marketing_reader_on_search_prod(
    make_bot, slack, elastic
):
    bot = started(make_bot, elastic)
    assert option_labels(bot, "marketing") == [
        "marketing-reader on search-prod (elasticsearch project)"
    ]
    assert option_labels(bot, "dev-wr") == ["dev-writer on search-dev (elasticsearch project)"]
    # Names the bot would not offer (spaces, mrkdwn) are not found, nor shown anywhere.
    assert option_labels(bot, "evil") == [] and option_labels(bot, "here") == []

    from tests.test_least_privilege import pick, role_values

    bot.command(REQUESTER, "")
    opened = slack.wait_for(
        lambda: [c for c in slack.calls_to("views.open") if c.get("response")], message="form"
    )[0]
    view = slack.view(opened["response"]["view"]["id"])
    shown = pick(bot, slack, view, f"project:elasticsearch:{SEARCH_PROD}")
    roles = role_values(shown)
    assert "marketing-reader" in roles and "Team_Writer" in roles
    assert "elasticsearch-admin:console-only" in roles
    assert "dev-writer" not in roles and "evil role" not in roles and "x<!here>" not in roles
    labels = [
        o["text"]["text"]
        for b in shown["blocks"]
        if b.get("block_id") == "role"
        for o in b["element"]["options"]
    ]
    assert "marketing-reader on search-prod (stack role)" in labels
    assert "Admin, console only, no data access (elasticsearch-admin:console-only)" in labels

    said = bot.say(REQUESTER, "help")
    assert "marketing-reader" in said and ":console-only" in said


# -- granted as viewer + application_roles, removed exactly --------------------------------------


@pytest.mark.parametrize("strict", [True, False], ids=["strict-delete", "lenient-delete"])
def test_approval_grants_viewer_with_the_stack_role_and_expiry_removes_exactly_that_entry(
    make_bot, slack, elastic, strict
):
    elastic.set_semantics(delete_needs_application_roles=strict)
    plain_dev = {
        "role_id": "elasticsearch-viewer",
        "organization_id": ORG_ID,
        "all": False,
        "project_ids": [SEARCH_DEV],
    }
    bot = started(make_bot, elastic)
    reseat_alice(
        elastic,
        {
            "project": {"elasticsearch": [plain_dev]},
            "deployment": [
                {
                    "role_id": "deployment-viewer",
                    "organization_id": ORG_ID,
                    "all": False,
                    "deployment_ids": ["d" * 32],
                }
            ],
        },
    )
    before = elastic.entries(ALICE)
    assert "filed" in bot.say(REQUESTER, "request search-prod marketing-reader 1h INC-1 campaign")
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    assert "`marketing-reader` (stack role, as elasticsearch-viewer)" in text_of(card)
    assert "stack role replaces the viewer's default" in text_of(card)
    approve(bot, slack)

    added = ("elasticsearch", "elasticsearch-viewer", SEARCH_PROD, ("marketing-reader",))
    assert elastic.entries(ALICE) == before | {added}
    (post,) = elastic.calls_to("POST", "/role_assignments")
    assert post["body"] == {"project": {"elasticsearch": [MARKETING]}}
    listed = elastic.member(ALICE)["project"]["elasticsearch"]
    assert MARKETING | {"all": False} in [e | {"all": False} for e in listed]
    assert plain_dev in [e | {"all": False} for e in listed]  # listed apart, untouched

    bot.advance(timedelta(hours=1, minutes=1))
    slack.wait_for(lambda: bot.state(1) is State.EXPIRED)
    (delete,) = elastic.calls_to("DELETE", "/role_assignments")
    assert delete["body"] == post["body"]  # the same entry, application_roles included
    assert elastic.entries(ALICE) == before  # the plain viewer entries stay


def test_console_only_admin_grants_application_roles_empty(make_bot, slack, elastic):
    bot = started(make_bot, elastic)
    said = bot.say(REQUESTER, "request search-prod elasticsearch-admin:console-only 1h INC-2 ilm")
    assert "filed" in said
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    assert "Admin, console only, no data access" in text_of(card)
    assert "no stack role" in text_of(card)
    approve(bot, slack)
    assert elastic.entries(ALICE) == {("elasticsearch", "elasticsearch-admin", SEARCH_PROD, ())}
    (post,) = elastic.calls_to("POST", "/role_assignments")
    (entry,) = post["body"]["project"]["elasticsearch"]
    assert entry["application_roles"] == [] and entry["role_id"] == "elasticsearch-admin"
    bot.advance(timedelta(hours=1, minutes=1))
    slack.wait_for(lambda: bot.state(1) is State.EXPIRED)
    (delete,) = elastic.calls_to("DELETE", "/role_assignments")
    assert delete["body"] == post["body"]
    assert elastic.entries(ALICE) == set()


def test_roles_appearing_during_a_console_only_admin_grant_are_reported(make_bot, slack, elastic):
    """A console-only project admin is still an admin grant: a role the member gained while
    it lasted (here, organization billing admin, added by hand) is reported to the owners
    when it ends, and left in place; only the grant's own entry is removed."""
    from tests.test_grant_ownership import _assign_by_hand

    bot = started(make_bot, elastic)
    assert "filed" in bot.say(
        REQUESTER, "request search-prod elasticsearch-admin:console-only 1h INC-2 ilm"
    )
    approve(bot, slack)
    billing = {"organization": [{"role_id": "billing-admin", "organization_id": ORG_ID}]}
    _assign_by_hand(elastic, ALICE, billing)
    bot.advance(timedelta(hours=1, minutes=1))
    slack.wait_for(lambda: bot.state(1) is State.EXPIRED)
    assert elastic.holdings(ALICE) == {("organization", "billing-admin", ORG_ID)}
    reports = slack.wait_for(
        lambda: [m for m in slack.messages_to(OWNER) if "did not hold before" in text_of(m)],
        message="the owners' report",
    )
    assert len(reports) == 1 and "billing-admin" in text_of(reports[0])


def test_deployment_stack_roles_from_policy(make_bot, slack, elastic):
    bot = started(
        make_bot,
        elastic,
        policy=[
            {
                "name": "ops",
                "resources": ["deployment:staging-*"],
                "roles": ["deployment-viewer"],
                "stack_roles": ["ops_readonly"],
            }
        ],
    )
    said = bot.say(REQUESTER, "request prod-search ops_readonly 1h INC-3")
    assert "'ops_readonly' is not a role for Deployment prod-search" in said  # not staging-*
    assert "filed" in bot.say(REQUESTER, "request staging-logs ops_readonly 1h INC-3 look")
    approve(bot, slack)
    assert elastic.entries(ALICE) == {
        ("deployment", "deployment-viewer", "e" * 32, ("ops_readonly",))
    }
    (post,) = elastic.calls_to("POST", "/role_assignments")
    assert post["body"]["deployment"][0]["application_roles"] == ["ops_readonly"]
    bot.advance(timedelta(hours=1, minutes=1))
    slack.wait_for(lambda: bot.state(1) is State.EXPIRED)
    assert elastic.entries(ALICE) == set()


def test_project_custom_roles_need_a_rule_with_stack_roles(make_bot, slack, elastic):
    bot = started(
        make_bot,
        elastic,
        policy=[{"resources": ["project:elasticsearch:*"], "roles": ["elasticsearch-viewer"]}],
    )
    said = bot.say(REQUESTER, "request search-prod marketing-reader 1h INC-4")
    assert "No access policy allows `marketing-reader`" in said
    assert option_labels(bot, "marketing") == []
    nothing_happened(bot, slack, elastic)


# -- never beside the same role; a plain entry and a stack-role entry are not each other ---------


def test_refused_privately_when_the_member_already_holds_that_role_there(make_bot, slack, elastic):
    bot = started(make_bot, elastic)
    reseat_alice(elastic, {"project": {"elasticsearch": [MARKETING]}})
    said = bot.say(REQUESTER, "request search-prod marketing-reader 1h INC-5")
    assert "You already hold elasticsearch-viewer with application roles marketing-reader" in said
    assert "Nothing was filed" in said
    # A stack-role entry does not stand for the plain role: no silent "granted", a refusal.
    said = bot.say(REQUESTER, "request search-prod elasticsearch-viewer 1h INC-6")
    assert "You already hold elasticsearch-viewer there" in said and "Nothing was filed" in said
    nothing_happened(bot, slack, elastic)


def test_a_plain_entry_does_not_satisfy_a_stack_role_request(make_bot, slack, elastic):
    bot = started(make_bot, elastic)
    plain = {k: v for k, v in MARKETING.items() if k != "application_roles"}
    reseat_alice(elastic, {"project": {"elasticsearch": [plain]}})
    said = bot.say(REQUESTER, "request search-prod marketing-reader 1h INC-7")
    assert "You already hold elasticsearch-viewer there (elasticsearch-viewer)" in said
    assert "does not document" in said
    nothing_happened(bot, slack, elastic)
    assert elastic.entries(ALICE) == {("elasticsearch", "elasticsearch-viewer", SEARCH_PROD, None)}


# -- the roles endpoint failing ------------------------------------------------------------------


def test_the_roles_endpoint_failing_says_so_and_changes_nothing(make_bot, slack, elastic):
    bot = started(make_bot, elastic)
    elastic.script("GET", r"/roles$", 503, times=20)
    said = bot.say(REQUESTER, "request search-prod marketing-reader 1h INC-8")
    assert "Elastic Cloud did not answer when I read the roles of" in said
    assert "search-prod" in said and "Nothing was filed" in said
    assert "not a role" not in said
    nothing_happened(bot, slack, elastic)
    # A refresh that cannot read them keeps what was read before (still offered).
    bot.runtime.catalogue.refresh()
    assert option_labels(bot, "marketing") == [
        "marketing-reader on search-prod (elasticsearch project)"
    ]
    elastic.clear_scripts()


def test_a_roles_read_that_times_out_is_an_error_not_an_empty_list(elastic):
    projects(elastic)
    client = ElasticClient(
        elastic.url,
        API_KEY,
        ORG_ID,
        timeout=0.2,
        retry=RetryPolicy(attempts=2, initial=0.01, maximum=0.02, total=2),
    )
    elastic.script("GET", r"/roles$", 200, body={}, delay=1, times=2)
    with pytest.raises(ElasticError, match="did not answer in time"):
        client.project_roles("elasticsearch", SEARCH_PROD)
    elastic.clear_scripts()
    elastic.script("GET", r"/roles$", 200, body={SEARCH_DEV: {"roles": []}})
    with pytest.raises(ElasticError, match="does not name it"):  # another project's answer
        client.project_roles("elasticsearch", SEARCH_PROD)
    assert client.project_roles("elasticsearch", SEARCH_PROD)[0] == "marketing-reader"
    client.close()


# -- attacks: roles that are not the project's ---------------------------------------------------


@pytest.mark.parametrize(
    "role",
    [
        "superuser",  # not in the project's list
        "dev-writer",  # search-dev's, not search-prod's
        "marketing-reader,superuser",
        'marketing-reader|["superuser"]',  # the stored unit's own syntax
        "marketing-reader`<!channel>`",
        "evil",  # half of a name the bot does not offer
        "x<!here>",  # listed by Elastic, but not a name the bot offers
    ],
)
def test_a_role_that_is_not_the_projects_is_refused_and_changes_nothing(
    make_bot, slack, elastic, role
):
    bot = started(make_bot, elastic)
    said = bot.say(REQUESTER, f"request search-prod {role} 1h INC-9")
    assert "is not a role for elasticsearch project search-prod" in said
    assert "<!channel>" not in said and "<!here>" not in said
    nothing_happened(bot, slack, elastic)


def test_a_crafted_form_submit_naming_another_projects_role_is_refused(make_bot, slack, elastic):
    bot = started(make_bot, elastic)
    bot.command(REQUESTER, "")
    form = slack.wait_for(lambda: slack.calls_to("views.open"))[-1]["args"]["view"]
    values = {
        "resource": {
            "type": "external_select",
            "selected_option": {"value": f"project:elasticsearch:{SEARCH_PROD}"},
        },
        "role": {"type": "static_select", "selected_option": {"value": "dev-writer"}},
        "duration": {"type": "static_select", "selected_option": {"value": "1h"}},
        "justification": {"type": "plain_text_input", "value": "INC-10"},
    }
    response = bot.submit_view(REQUESTER, form, values)
    assert response.json()["response_action"] == "errors"
    assert "not a role" in response.json()["errors"]["role"]
    nothing_happened(bot, slack, elastic)


def test_the_case_of_a_stack_role_is_elastics(make_bot, slack, elastic):
    """Commands arrive lower-cased: the one role that matches is requested as Elastic
    spells it (the entry must name it exactly)."""
    bot = started(make_bot, elastic)
    assert "filed" in bot.say(REQUESTER, "request search-prod team_writer 1h INC-11 docs")
    approve(bot, slack)
    assert bot.request(1).role_id == "Team_Writer"
    assert elastic.entries(ALICE) == {
        ("elasticsearch", "elasticsearch-viewer", SEARCH_PROD, ("Team_Writer",))
    }


# -- policy names stack roles; bad configuration stops the start ---------------------------------


def test_bad_stack_roles_are_a_configuration_error_naming_the_rule():
    for bad, said in (
        ({"stack_roles": ["ops readonly"]}, "not a stack role name"),
        ({"stack_roles": ["deployment-viewer"]}, "is a Cloud role"),
        ({"stack_roles": ["ops"], "resources": ["organization"]}, "hold no stack roles"),
    ):
        with pytest.raises(ValidationError) as raised:
            PolicyRuleConfig(name="ops", **bad)
        assert "rule 'ops'" in str(raised.value) and said in str(raised.value)
    ok = PolicyRuleConfig(resources=["deployment:*", "project:*:*"], stack_roles=["ops_*", "a.b"])
    assert ok.stack_roles == ["ops_*", "a.b"]


# -- the role gone between filing and granting ---------------------------------------------------


def test_a_custom_role_deleted_before_the_grant_fails_it_and_grants_nothing(
    make_bot, slack, elastic
):
    """The project's role list is read again when the grant is made: a role deleted (or
    renamed) after the request was filed is not sent to Elastic with a name that means
    nothing there; the request fails, and the requester hears why."""
    bot = started(make_bot, elastic)
    assert "filed" in bot.say(REQUESTER, "request search-prod marketing-reader 1h INC-4 report")
    elastic.set_project_roles(SEARCH_PROD, ["Team_Writer"])  # marketing-reader deleted
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.FAILED)
    assert writes(elastic) == []
    assert "no longer has the role `marketing-reader`" in bot.request(1).last_error
    slack.wait_for(
        lambda: [
            m
            for m in slack.messages_to(REQUESTER)
            if "no longer has the role" in text_of(m) and "marketing-reader" in text_of(m)
        ],
        message="the requester told why",
    )


def test_the_roles_endpoint_failing_at_grant_time_retries_the_grant(make_bot, slack, elastic):
    bot = started(make_bot, elastic)
    assert "filed" in bot.say(REQUESTER, "request search-prod marketing-reader 1h INC-5 report")
    elastic.script("GET", r"/roles$", 503, times=20)
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: bot.request(1).last_error is not None)
    bot.settle()
    assert bot.state(1) is State.APPROVED and writes(elastic) == []
    elastic.clear_scripts()
    bot.advance(timedelta(minutes=5))
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    assert elastic.entries(ALICE) >= {
        ("elasticsearch", "elasticsearch-viewer", SEARCH_PROD, ("marketing-reader",))
    }


# -- a stack role for someone not yet in the organization ------------------------------------------


def test_a_custom_role_by_invitation_carries_its_application_roles_and_ends_exactly(
    make_bot, slack, elastic
):
    """A requester who is not a member is invited with the custom role's entry (the viewer
    role with ``application_roles``); once they accept they hold exactly that entry, and at
    the end it is removed with the same body and the membership the invitation made goes."""
    bot = started(make_bot, elastic)
    slack.add_user("U0NEWBIE1", email="newbie@example.com", name="newbie")
    assert "filed" in bot.say("U0NEWBIE1", "request search-prod marketing-reader 1h INC-6 report")
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    bot.settle()
    (invitation,) = elastic.invitations()
    assert invitation["role_assignments"] == {"project": {"elasticsearch": [MARKETING]}}
    user_id = elastic.accept_invitation(invitation["token"])
    assert elastic.entries(user_id) == {
        ("elasticsearch", "elasticsearch-viewer", SEARCH_PROD, ("marketing-reader",))
    }
    bot.advance(timedelta(hours=1, minutes=1))
    slack.wait_for(lambda: bot.state(1) is State.EXPIRED)
    assert elastic.user_id_for("newbie@example.com") is None
    (delete,) = elastic.calls_to("DELETE", "/role_assignments")
    assert delete["body"] == {"project": {"elasticsearch": [MARKETING]}}
    assert elastic.spec_violations() == []
