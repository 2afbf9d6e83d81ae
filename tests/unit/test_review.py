"""Access reviews, the pure part (#14 §4): periods, what a review holds, each owner's part,
and the digest's Slack limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.access.model import AccessRequest
from bot.access.ports import Member
from bot.access.resources import Resource, ResourceKind, Unit
from bot.access.review import Period, build_review, digests, last_complete_period, parse_interval
from bot.access.states import State
from bot.slack.blocks.review import digest
from tests.unit.memory import PROD, STAGING

ORG = "1234567890"
ORGANIZATION = Resource(ResourceKind.ORGANIZATION, ORG, "acme")
WEEK = Period(datetime(2030, 1, 7, tzinfo=UTC), datetime(2030, 1, 14, tzinfo=UTC))


def _grant(request_id: int, resource: Resource, granted: datetime, ended: datetime | None):
    return AccessRequest(
        id=request_id,
        requester_id="U_ALICE",
        requester_email="alice@example.com",
        resource=resource,
        role_id="deployment-viewer",
        duration=timedelta(hours=1),
        justification="INC-1",
        state=State.EXPIRED if ended else State.ACTIVE,
        created_at=granted,
        unit=Unit("deployment", "deployment-viewer", resource.id),
        elastic_user_id="1000000001",
        decided_by="U_OLIVIA",
        granted_at=granted,
        expires_at=granted + timedelta(hours=1),
        ended_at=ended,
    )


def test_intervals_and_periods():
    assert parse_interval("weekly") == timedelta(days=7)
    assert parse_interval(" Daily ") == timedelta(days=1)
    assert parse_interval("14d") == timedelta(days=14)
    for bad in ("monthly", "30m", "0d", ""):
        with pytest.raises(ValueError):
            parse_interval(bad)
    wednesday = datetime(2030, 1, 16, 15, 30, tzinfo=UTC)
    assert last_complete_period(wednesday, timedelta(days=7)) == WEEK  # Monday to Monday
    day = last_complete_period(wednesday, timedelta(days=1))
    assert (day.start, day.end) == (
        datetime(2030, 1, 15, tzinfo=UTC),
        datetime(2030, 1, 16, tzinfo=UTC),
    )
    monday = datetime(2030, 1, 14, tzinfo=UTC)  # the end itself belongs to the next period
    assert last_complete_period(monday, timedelta(days=7)) == WEEK


def _review(members, **kw):
    inside = _grant(1, PROD, datetime(2030, 1, 8, tzinfo=UTC), datetime(2030, 1, 8, 1, tzinfo=UTC))
    spanning = _grant(2, STAGING, datetime(2030, 1, 6, 23, tzinfo=UTC), None)
    before = _grant(3, PROD, datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, 1, tzinfo=UTC))
    after = _grant(4, PROD, datetime(2030, 1, 14, 1, tzinfo=UTC), None)
    return build_review(
        WEEK,
        now=datetime(2030, 1, 14, 9, tzinfo=UTC),
        grants=[inside, spanning, before, after],
        approvals={1: ["U_OLIVIA", "U_OLIVIA"]},
        attention=[replace(spanning, state=State.REVOKING, parked="prod is stopped")],
        overdue_after=timedelta(minutes=5),
        members=members,
        owned=[("1000000001", Unit("deployment", "deployment-viewer", STAGING.id), 2)],
        resources=[ORGANIZATION, PROD, STAGING],
        organization_id=ORG,
        **kw,
    )


def test_what_a_review_holds():
    members = [
        Member(
            "1000000001",
            "alice@example.com",
            frozenset(
                {
                    Unit("deployment", "deployment-viewer", STAGING.id),  # the bot's: not standing
                    Unit("deployment", "deployment-admin", PROD.id),
                    Unit("deployment", "deployment-viewer", "f" * 32),  # a deleted deployment
                    Unit("organization", "billing-admin", "999"),  # another organization
                }
            ),
        )
    ]
    review = _review(members)
    by_key = {r.resource.key: r for r in review.resources}
    assert [g.request.id for g in by_key[PROD.key].grants] == [1]
    assert by_key[PROD.key].grants[0].approved_by == ("U_OLIVIA",)
    assert [g.request.id for g in by_key[STAGING.key].grants] == [2]
    assert [s.unit.role_id for s in by_key[PROD.key].standing] == ["deployment-admin"]
    assert by_key[STAGING.key].standing == ()
    assert [a.kind for a in by_key[STAGING.key].attention] == ["parked"]
    assert f"deployment:{'f' * 32}" in by_key  # named by its ID
    assert "organization:999" not in by_key and ORGANIZATION.key not in by_key
    assert review.standing_read


def test_each_owner_gets_only_their_part_and_an_owner_of_nothing_nothing():
    review = _review([])
    owners = {PROD.key: ["U_OLIVIA"], STAGING.key: ["U_OSCAR"], ORGANIZATION.key: ["U_SEC"]}
    parts = digests(review, owners, every=list(owners))
    assert set(parts) == {"U_OLIVIA", "U_OSCAR"}  # nothing on the organization
    assert [r.resource.key for r in parts["U_OLIVIA"].resources] == [PROD.key]
    assert [r.resource.key for r in parts["U_OSCAR"].resources] == [STAGING.key]


def test_an_unread_member_list_is_said_to_every_owner():
    review = _review(None, standing_error="HTTP 503")
    assert not review.standing_read and review.standing_error == "HTTP 503"
    owners = {PROD.key: ["U_OLIVIA"], ORGANIZATION.key: ["U_SEC"]}
    parts = digests(review, owners, every=list(owners))
    assert set(parts) == {"U_OLIVIA", "U_SEC"}
    assert parts["U_SEC"].resources == ()
    text = str(digest(parts["U_SEC"])[1])
    assert "Standing access could not be read" in text and "HTTP 503" in text


def test_a_long_digest_stays_within_slacks_limits():
    many = [Resource(ResourceKind.DEPLOYMENT, f"{i:032x}", f"deployment-{i}") for i in range(60)]
    members = [
        Member(
            f"2{i:09d}",
            f"user{i}@example.com",
            frozenset(Unit("deployment", "deployment-viewer", r.id) for r in many),
        )
        for i in range(80)
    ]
    review = build_review(
        WEEK,
        now=WEEK.end,
        grants=[],
        approvals={},
        attention=[],
        overdue_after=timedelta(minutes=5),
        members=members,
        owned=[],
        resources=many,
        organization_id=ORG,
    )
    _, body = digest(review)
    assert len(body) <= 50
    texts = [b["text"]["text"] for b in body if b["type"] == "section"]
    assert all(len(t) <= 3000 for t in texts)
    assert any("more line(s)" in t for t in texts)
    assert "16 more resource(s)" in body[-2]["elements"][0]["text"]


def test_members_listed_without_role_assignments_are_not_known_not_none():
    """A member Elastic lists without role assignments (null or left out) holds what
    nobody can tell: the digest and the CLI say so by name instead of listing nothing."""
    members = [
        Member("1000000007", "quiet@example.com", frozenset(), listed=False),
        Member("1000000008", "", frozenset(), listed=False),
    ]
    review = _review(members)
    assert review.standing_unknown == ("1000000008", "quiet@example.com")
    text, body = digest(review)
    said = " ".join(b["text"]["text"] for b in body if b["type"] == "section")
    assert "`quiet@example.com`" in said and "*not known*" in said
    from bot.review import as_data

    assert "quiet@example.com" in as_data(review)["standing_access_note"]
    assert _review([]).standing_unknown == ()
