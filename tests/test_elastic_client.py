"""The Elastic client on its own: every request it can send conforms to the published spec."""

from __future__ import annotations

import httpx
import pytest

from bot.access.resources import Unit
from bot.elastic.client import ElasticClient, RetryPolicy
from bot.elastic.errors import ElasticError
from tests.harness import API_KEY, ORG_ID

ORG = Unit("organization", "billing-admin", ORG_ID)


@pytest.fixture
def client(elastic):
    c = ElasticClient(
        elastic.url,
        API_KEY,
        ORG_ID,
        timeout=0.5,
        retry=RetryPolicy(attempts=3, initial=0.01, maximum=0.05, total=5),
    )
    yield c
    c.close()


def test_every_call_the_client_makes_conforms_to_the_spec(client, elastic):
    project = elastic.add_project("security", "siem")
    alice = "1000000001"
    units = [
        ORG,
        Unit("deployment", "deployment-viewer", "d" * 32),
        Unit("deployment", "deployment-admin", "*"),
        Unit("project:security", "security-t1-analyst", project),
    ]
    assert client.organization().id == ORG_ID
    assert {m.email for m in client.members()} >= {"alice@example.com"}
    client.add_units(alice, units)
    assert set(units) <= client.member(alice).units
    client.remove_units(alice, units)
    assert not set(units) & client.member(alice).units
    assert {d[1] for d in client.deployments(page_size=1)} == {"prod-search", "staging-logs"}
    for kind in ("elasticsearch", "observability", "security"):
        client.projects(kind)
    token = client.invite("new@example.com", [units[1]], "2h")
    assert token in client.pending_invitations()
    client.delete_invitation(token)
    assert client.deployment_state("d" * 32) == "visible"
    assert client.deployment_state("f" * 32) == "missing"
    leaver = elastic.add_member("leaver@example.com")
    assert client.remove_member(leaver) is True
    assert client.find_member("leaver@example.com") is None
    assert client.remove_member(leaver) is False  # already gone: not an error
    assert elastic.spec_violations() == []
    for call in elastic.calls:
        assert call["headers"]["authorization"] == f"ApiKey {API_KEY}"


def test_all_pages_of_a_large_organization_are_read(client, elastic):
    for i in range(250):
        elastic.add_deployment(f"dep-{i:03d}")
    seen = list(client.deployments(page_size=100))
    assert len(seen) == 252 and len({d[0] for d in seen}) == 252
    assert len(elastic.calls_to("POST", "/deployments/_search")) == 3


def test_timeouts_and_connection_errors_are_retried(client, elastic):
    elastic.script("GET", r"/members$", 200, body={"members": []}, delay=1.0, times=1)
    assert any(m.email == "alice@example.com" for m in client.members())
    dead = ElasticClient(
        "http://127.0.0.1:9",
        API_KEY,
        ORG_ID,
        timeout=0.2,
        retry=RetryPolicy(attempts=2, initial=0.01, maximum=0.02, total=2),
    )
    with pytest.raises(ElasticError) as exc:
        dead.members()
    assert exc.value.retryable and "reach" in str(exc.value)


def test_4xx_errors_carry_elastics_code_and_are_not_retried(client, elastic):
    with pytest.raises(ElasticError) as exc:
        client.add_units("no-such-user", [ORG])
    assert exc.value.code == "role_assignments.invalid_target_user_id" and not exc.value.retryable
    assert len(elastic.calls_to("POST", "/role_assignments")) == 1


def test_retry_after_is_honoured(client, elastic, monkeypatch):
    waits = []
    monkeypatch.setattr("tenacity.nap.time.sleep", waits.append)
    elastic.script("GET", r"/members$", 429, headers={"Retry-After": "0.03"}, times=2)
    client.members()
    assert waits == [0.03, 0.03]


def _answering(handler) -> ElasticClient:
    """A client whose every request gets ``handler``'s answer, tried once."""
    return ElasticClient(
        "http://x",
        API_KEY,
        ORG_ID,
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=1),
    )


def test_non_json_success_is_an_error_not_a_crash(elastic):
    def handler(request):
        return httpx.Response(200, text="<html>proxy login</html>")

    c = _answering(handler)
    with pytest.raises(ElasticError, match="not JSON"):
        c.members()


def test_a_member_list_of_the_wrong_shape_is_reported_as_such(elastic):
    def handler(request):
        return httpx.Response(200, json={"members": "nobody"})

    c = _answering(handler)
    with pytest.raises(ElasticError, match=r"cannot read \(members: "):
        c.members()


def test_a_malformed_assignment_is_read_leniently_and_blocks_no_one(elastic, caplog):
    """Role assignments are read per member and leniently: a malformed entry is logged and
    read as holding the most it could mean; the member stays readable."""
    good = {
        "user_id": "1",
        "organization_id": ORG_ID,
        "email": "good@example.com",
        "member_since": "2026-01-01T00:00:00Z",
        "role_assignments": {
            "deployment": [
                {
                    "role_id": "deployment-viewer",
                    "organization_id": ORG_ID,
                    "deployment_ids": ["d" * 32],
                    "all": False,
                }
            ]
        },
    }
    bad = {
        "user_id": "2",
        "organization_id": ORG_ID,
        "email": "bad@example.com",
        "member_since": "2026-01-01T00:00:00Z",
        "role_assignments": {
            "deployment": [
                {"role_id": "deployment-viewer", "all": "maybe"},
                {
                    "role_id": "deployment-editor",
                    "organization_id": ORG_ID,
                    "all": True,
                    "deployment_ids": ["e" * 32],
                },
            ],
            "organization": [{"role_id": "billing-admin"}],
        },
    }

    def handler(request):
        return httpx.Response(200, json={"members": [good, bad]})

    c = _answering(handler)
    member = c.find_member("GOOD@example.com")
    assert member is not None
    assert member.units == {Unit("deployment", "deployment-viewer", "d" * 32)}
    bad_member = c.member("2", max_age=60)
    assert bad_member is not None
    assert bad_member.units == {
        Unit("deployment", "deployment-viewer", "*"),
        Unit("deployment", "deployment-editor", "*"),
        Unit("deployment", "deployment-editor", "e" * 32),
        Unit("organization", "billing-admin", ORG_ID),
    }
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "member 2 with malformed role assignments" in logged
    assert "has all: true and deployment_ids" in logged


def test_a_burst_of_checks_shares_member_reads(client, elastic):
    """A thousand grants ending together each need a read that starts after they ask; reads
    start at most one per READ_GAP (50 ms), so a burst costs a few reads, each serving many."""
    import threading
    import time

    alice = "1000000001"
    client.member(alice, max_age=0)
    before = len(elastic.calls_to("GET", "/members"))
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(client.member(alice, max_age=0)))
        for _ in range(40)
    ]
    began = time.monotonic()
    for thread in threads:  # one check every 5 ms, as revocations come in a burst
        thread.start()
        time.sleep(0.005)
    for thread in threads:
        thread.join(10)
    spread = time.monotonic() - began
    assert len(results) == 40 and all(r is not None for r in results)
    reads = len(elastic.calls_to("GET", "/members")) - before
    # One read per gap at most (plus the first and the last), not one per check or two.
    assert 1 <= reads <= spread / 0.05 + 2, f"{reads} reads for 40 checks in {spread:.2f}s"


def test_one_members_unreadable_assignments_leave_the_others_readable(elastic, caplog):
    """The member list is decoded with each member's assignments left raw. A member whose
    ``role_assignments`` cannot be read at all (not an object, a scope that is not a list)
    is unreadable, alone: taken as holding nothing, a revocation would end the grant and
    leave the role. Everyone else, and fields the bot does not know, read as usual."""
    good = {
        "user_id": "1",
        "organization_id": ORG_ID,
        "email": "good@example.com",
        "a_field_from_a_newer_api": {"nested": [1, 2, 3]},
        "role_assignments": {
            "organization": [{"role_id": "organization-member", "organization_id": ORG_ID}]
        },
    }
    odd = [
        {"user_id": "2", "organization_id": ORG_ID, "role_assignments": ["billing-admin"]},
        {"user_id": "3", "organization_id": ORG_ID, "role_assignments": {"deployment": "all"}},
        {
            "user_id": "6",
            "organization_id": ORG_ID,
            "role_assignments": {"deployment": [{"organization_id": ORG_ID, "all": True}]},
        },
        {
            "user_id": "4",
            "organization_id": ORG_ID,
            "role_assignments": {"project": {"security": {"role_id": "security-admin"}}},
        },
    ]
    nobody = {"user_id": "5", "organization_id": ORG_ID, "role_assignments": None}

    def handler(request):
        return httpx.Response(200, json={"members": [good, *odd, nobody], "next_page": None})

    c = _answering(handler)
    assert c.member("1").units == {Unit("organization", "organization-member", ORG_ID)}
    for user_id, why in (
        ("2", "role_assignments is list"),
        ("3", "deployment is str"),
        ("4", "project.security is dict"),
        ("6", "deployment.0. names no role"),
    ):
        with pytest.raises(ElasticError, match=f"member {user_id} .*cannot read \\({why}") as e:
            c.member(user_id, max_age=60)
        assert e.value.retryable
    # Null (or left out): not known, never "holds nothing", and units prove nothing gone.
    unknown = c.member("5", max_age=60)
    assert not unknown.listed and not unknown.holds_nothing and unknown.units == frozenset()


def test_a_member_without_a_user_id_of_the_right_type_is_reported_with_where(elastic):
    def handler(request):
        return httpx.Response(200, json={"members": [{"user_id": 7, "organization_id": ORG_ID}]})

    c = _answering(handler)
    with pytest.raises(ElasticError, match=r"cannot read \(members\.0\.user_id: Expected `str`"):
        c.members()


def test_a_truncated_member_list_is_not_json(elastic):
    def handler(request):
        return httpx.Response(200, content=b'{"members": [{"user_id": "1", "organiz')

    c = _answering(handler)
    with pytest.raises(ElasticError, match="not JSON"):
        c.members()
