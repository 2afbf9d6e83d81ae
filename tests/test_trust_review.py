"""A review of the trust boundary (#12), tried the way an insider would: each test is a hole
found after the first implementation, shown through the real HTTP edge and the fakes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from bot.access.states import State
from tests.harness import OWNER, OWNER2, REQUESTER, STRANGER
from tests.test_trust_boundary import (
    ALICE,
    DEPLOYMENT,
    active,
    buttons,
    cards,
    last_reply,
    pending,
    stored,
)

BREAK_GLASS = [{"roles": ["deployment-admin"], "break_glass": True}, {"roles": ["*"]}]


# -- one human, two approver accounts, is one approval ----------------------------------------
def test_one_approver_with_two_accounts_cannot_make_a_quorum_of_two(make_bot, slack, elastic):
    """Olivia has a second full-member account (owner1+alt@); both are integration owners.
    Two approvals must be two people, not two accounts of one."""
    slack.add_user("U0OLIVALT", email="Owner1+alt@example.com", name="olivia-alt")
    bot = make_bot(
        integration_owners=[OWNER, OWNER2, "U0OLIVALT"],
        policy=[{"roles": ["*"], "approvals": 2}],
    )
    pending(bot, slack, "request staging-logs deployment-viewer 1h INC-1 need logs")
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: any(e["kind"] == "approval" for e in bot.runtime.store.events(1)))
    bot.click("U0OLIVALT", "approve", "1", slack.wait_for(lambda: cards(slack, "U0OLIVALT"))[0])
    slack.wait_for(lambda: len(bot.runtime.store.approvals(1)) == 2)
    bot.settle()
    assert bot.state(1) is State.PENDING
    assert elastic.holdings(ALICE) == set()
    bot.click(OWNER2, "approve", "1", card)  # a second human completes it
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)


def test_one_approver_with_two_accounts_cannot_make_an_extension_quorum(make_bot, slack, elastic):
    slack.add_user("U0OLIVALT", email="owner1+alt@example.com", name="olivia-alt")
    bot = make_bot(
        integration_owners=[OWNER, OWNER2, "U0OLIVALT"],
        policy=[{"roles": ["*"], "approvals": 2}],
    )
    pending(bot, slack, "request staging-logs deployment-viewer 1h INC-1 need logs")
    bot.decide(1, OWNER, approve=True)
    bot.decide(1, OWNER2, approve=True)
    assert bot.state(1) is State.ACTIVE
    end = bot.request(1).expires_at
    assert "sent for approval" in bot.say(REQUESTER, "extend 1 1h still on INC-1")
    bot.decide_extension(1, OWNER, approve=True)
    bot.decide_extension(1, "U0OLIVALT", approve=True)
    assert bot.request(1).expires_at == end  # one person, one approval
    bot.decide_extension(1, OWNER2, approve=True)
    assert bot.request(1).expires_at == end + timedelta(hours=1)


# -- people who may not request learn nothing about the organization's resources -------------
def test_a_guest_command_learns_no_resource_names_and_costs_no_elastic_call(
    make_bot, slack, elastic
):
    slack.set_user(STRANGER, is_restricted=True)
    bot = make_bot(integration_owners=[OWNER], policy=BREAK_GLASS)
    before = len(elastic.calls_to("*", "deployments"))
    for text in (
        f"request {DEPLOYMENT} no-such-role 1h probing",
        "request prod-search no-such-role 1h probing",
        "break-glass prod-search deployment-viewer 1h probing",
        "request nothing-here deployment-viewer 1h probing",
    ):
        said = bot.say(STRANGER, text)
        assert "Guests can't request access" in said, (text, said)
        assert "prod-search" not in said and DEPLOYMENT not in said and "Valid roles" not in said
    assert len(elastic.calls_to("*", "deployments")) == before  # no refresh on their word
    assert stored(bot) == 0


def test_the_extend_button_clicked_by_someone_else_does_not_name_the_requester(
    make_bot, slack, elastic
):
    bot = make_bot(integration_owners=[OWNER])
    active(bot, slack)
    # Answered 200 at once: the refusal is the reply, with no error from Slack on top.
    assert bot.click(STRANGER, "extend", "1").status_code == 200
    said = last_reply(slack, f"click-{STRANGER}")
    assert "not found, or is not yours" in said
    assert REQUESTER not in said
    assert slack.calls_to("views.open") == []


# -- the requester is checked again when an extension is approved ------------------------------
def test_an_extension_approved_after_the_requester_left_is_not_applied(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER], requester_recheck="24h")
    active(bot, slack)
    end = bot.request(1).expires_at
    assert "sent for approval" in bot.say(REQUESTER, "extend 1 2h still on INC-1")
    card = slack.wait_for(
        lambda: [m for m in slack.messages_to(OWNER) if "approve_extension" in buttons(m)]
    )[0]
    slack.set_user(REQUESTER, deleted=True)  # no user_change arrives
    bot.click(OWNER, "approve_extension", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.REVOKED)
    assert bot.request(1).expires_at <= end
    assert ("deployment", "deployment-viewer", DEPLOYMENT) not in elastic.holdings(ALICE)
    said = last_reply(slack, f"click-{OWNER}")
    assert "deactivated" in said


# -- break-glass bounds hold under concurrency --------------------------------------------------
def test_break_glass_cooldown_holds_when_fired_at_once(make_bot, slack, elastic):
    elastic.add_deployment("dev-a", deployment_id="a" * 32)
    elastic.add_deployment("dev-b", deployment_id="b" * 32)
    bot = make_bot(
        integration_owners=[OWNER],
        policy=[{"roles": ["deployment-admin"], "break_glass": True}, {"roles": ["*"]}],
        break_glass_cooldown="2h",
    )
    texts = [
        f"break-glass {name} deployment-admin 30m prod is down"
        for name in ("prod-search", "staging-logs", "dev-a", "dev-b")
    ]
    with ThreadPoolExecutor(len(texts)) as pool:
        list(pool.map(lambda t: bot.command(REQUESTER, t), texts))
    slack.wait_for(lambda: len(slack.webhook_posts(f"cmd-{REQUESTER}")) == len(texts))
    bot.settle()
    taken = [
        r for r in bot.runtime.store.list_requests(limit=50)[0] if r.decided_by == "break-glass"
    ]
    assert len(taken) == 1, [(r.ref, r.state) for r in taken]
    refusals = [p["text"] for p in slack.webhook_posts(f"cmd-{REQUESTER}")]
    assert sum("used break-glass" in t for t in refusals) == len(texts) - 1, refusals


def test_an_approval_reads_the_clicker_from_slack_once(bot, slack):
    """Each person is read from Slack once per decision, fresh since it began: the clicker
    was read up to three times per Approve (the actor check, the current approvers, the
    one-approval-per-human count)."""
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h one read per decision")
    slack.wait_for(lambda: bot.state(1) is not None and bot.state(1).value == "pending")
    before = len(slack.calls)
    bot.decide(1, OWNER, approve=True)
    reads = [c["args"].get("user") for c in slack.calls[before:] if c["method"] == "users.info"]
    assert bot.state(1).value == "active"
    assert reads.count(OWNER) == 1, reads
