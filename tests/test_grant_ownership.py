"""No access outlives its grant (#13): what the bot may have added stays the bot's to remove,
whatever Elastic Cloud answered in between."""

from __future__ import annotations

from datetime import timedelta

from bot.access.resources import Unit
from bot.access.states import State
from tests.harness import ORG_ID
from tests.test_elastic_grants import ALICE, PROD, VIEWER_ON_PROD, approve, ask, dms

FORBIDDEN = {
    "errors": [
        {
            "code": "root.unauthorized",
            "message": "The supplied authentication is invalid.",
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
