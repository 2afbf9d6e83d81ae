"""Property: after every grant ends, a member holds exactly what they held before, and while
grants run they hold at least their standing access plus what the running grants give."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.access.states import State
from tests.harness import OWNER

ORG_ID = "1234567890"
PROD, STAGING = "d" * 32, "e" * 32
#: (request text resource, role) → the holding it gives, as the emulator reports it.
CHOICES = [
    ("prod-search", "deployment-viewer", ("deployment", "deployment-viewer", PROD)),
    ("prod-search", "deployment-editor", ("deployment", "deployment-editor", PROD)),
    ("staging-logs", "deployment-viewer", ("deployment", "deployment-viewer", STAGING)),
    ("all", "deployment-viewer", ("deployment", "deployment-viewer", "*")),
    ("organization", "billing-admin", ("organization", "billing-admin", ORG_ID)),
]
counter = itertools.count()


def standing_body(held: list[tuple[str, str, str]]) -> dict:
    body: dict = {}
    for kind, role, target in held:
        if kind == "organization":
            body.setdefault("organization", []).append({"role_id": role, "organization_id": ORG_ID})
        elif target == "*":
            body.setdefault("deployment", []).append(
                {"role_id": role, "organization_id": ORG_ID, "all": True}
            )
        else:
            body.setdefault("deployment", []).append(
                {
                    "role_id": role,
                    "organization_id": ORG_ID,
                    "all": False,
                    "deployment_ids": [target],
                }
            )
    return body


def covered(wanted: set, holdings: set) -> bool:
    """Every wanted holding is held directly or through an ``all`` of the same role."""
    return all(
        h in holdings or (h[0] != "organization" and (h[0], h[1], "*") in holdings) for h in wanted
    )


scenario = st.tuples(
    st.sets(st.sampled_from(range(len(CHOICES))), max_size=3),  # standing access
    st.lists(  # grants: (choice, minutes after the previous one starts, duration in minutes)
        st.tuples(st.sampled_from(range(len(CHOICES))), st.integers(0, 90), st.integers(1, 180)),
        min_size=1,
        max_size=4,
    ),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenario)
def test_grants_end_leaving_exactly_the_standing_access(bot, slack, elastic, case):
    standing_idx, grants = case
    n = next(counter)
    email, slack_id = f"p{n}@example.com", f"U0PROP{n:04d}"
    standing = [CHOICES[i][2] for i in sorted(standing_idx)]
    user_id = elastic.add_member(email, role_assignments=standing_body(standing) or None)
    slack.add_user(slack_id, email=email, name=f"p{n}")
    before = elastic.holdings(user_id)
    service = bot.runtime.service
    live: dict[int, tuple[str, str, str]] = {}
    ends: dict[int, object] = {}
    for k, (choice, wait, minutes) in enumerate(grants):
        bot.advance(timedelta(minutes=wait))
        resource, role, held = CHOICES[choice]
        request = service.file_request(
            slack_id, resource, role, timedelta(minutes=minutes), f"case {n}.{k}"
        )
        service.decide(request.id, OWNER, approve=True)
        assert bot.state(request.id) is State.ACTIVE
        live[request.id] = held
        ends[request.id] = bot.request(request.id).expires_at
        now = bot.clock.now()
        running = {h for rid, h in live.items() if ends[rid] > now}
        holdings = elastic.holdings(user_id)
        assert covered(before, holdings) and covered(running, holdings)
    bot.advance(timedelta(hours=5))
    assert all(bot.state(rid) is State.EXPIRED for rid in live)
    assert elastic.holdings(user_id) == before
