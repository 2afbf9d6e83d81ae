"""Issue #18: the emulator's switches for what Elastic does not document, each side of each
question, as seen through the HTTP API the bot uses."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.standins.elastic.emulator import ElasticEmulator
from bot.standins.elastic.semantics import Semantics
from tests.test_elastic_emulator import (  # the module skips without the specs
    API_KEY,
    ORG,
    SPEC_DIR,
    add,
    dep_assignment,
    error_code,
    ok,
    remove,
)

VIEWER, EDITOR = "deployment-viewer", "deployment-editor"


@pytest.fixture
def emu() -> Iterator[ElasticEmulator]:
    assert SPEC_DIR is not None
    with ElasticEmulator(SPEC_DIR, API_KEY, ORG) as emulator:
        yield emulator


@pytest.fixture
def client(emu: ElasticEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emu.url + "/api/v1", headers={"Authorization": f"ApiKey {API_KEY}"}, timeout=5
    ) as http:
        yield http


def _all(role: str) -> dict:
    return {"role_id": role, "organization_id": ORG, "all": True}


@pytest.mark.parametrize("absorbs", [True, False])
def test_all_absorbs_or_keeps_the_specific_entries(emu, client, absorbs):
    emu.set_semantics(all_absorbs=absorbs)
    a = emu.add_deployment("a")
    user = emu.add_member("alice@example.com")
    ok(add(client, user, {"deployment": [dep_assignment(VIEWER, [a])]}))
    ok(add(client, user, {"deployment": [_all(VIEWER)]}))
    specific = {("deployment", VIEWER, a)}
    wide = {("deployment", VIEWER, "*")}
    assert emu.holdings(user) == (wide if absorbs else wide | specific)
    if not absorbs:  # listed as two entries of the role
        assert [bool(e.get("all")) for e in emu.member(user)["deployment"]] == [True, False]
    ok(remove(client, user, {"deployment": [_all(VIEWER)]}))
    assert emu.holdings(user) == (set() if absorbs else specific)


@pytest.mark.parametrize("replace", [True, False])
def test_a_second_role_on_a_deployment_replaces_or_joins(emu, client, replace):
    emu.set_semantics(one_role_per_resource=replace)
    a = emu.add_deployment("a")
    user = emu.add_member("alice@example.com")
    ok(add(client, user, {"deployment": [dep_assignment(VIEWER, [a])]}))
    ok(add(client, user, {"deployment": [dep_assignment(EDITOR, [a])]}))
    both = {("deployment", VIEWER, a), ("deployment", EDITOR, a)}
    assert emu.holdings(user) == ({("deployment", EDITOR, a)} if replace else both)


@pytest.mark.parametrize("single", [True, False])
def test_a_second_organization_role_replaces_or_joins(emu, client, single):
    emu.set_semantics(one_organization_role=single)
    user = emu.add_member("alice@example.com")
    for role in ("billing-admin", "organization-admin"):
        ok(add(client, user, {"organization": [{"role_id": role, "organization_id": ORG}]}))
    roles = {r for _, r, _ in emu.holdings(user)}
    assert roles == ({"organization-admin"} if single else {"billing-admin", "organization-admin"})


@pytest.mark.parametrize("strict", [True, False])
def test_a_delete_must_repeat_application_roles_or_not(emu, client, strict):
    emu.set_semantics(delete_needs_application_roles=strict)
    a = emu.add_deployment("a")
    user = emu.add_member("alice@example.com")
    with_app = dep_assignment(VIEWER, [a], application_roles=["viewer"])
    ok(add(client, user, {"deployment": [with_app]}))
    ok(remove(client, user, {"deployment": [dep_assignment(VIEWER, [a])]}))
    assert emu.holdings(user) == ({("deployment", VIEWER, a)} if strict else set())
    ok(remove(client, user, {"deployment": [with_app]}))  # repeated: removed either way
    assert emu.holdings(user) == set()


@pytest.mark.parametrize("minutes", [True, False])
def test_invitation_expires_in_takes_minutes_or_not(emu, client, minutes):
    emu.set_semantics(invitation_minutes=minutes)
    path = f"/organizations/{ORG}/invitations"
    response = client.post(path, json={"emails": ["new@example.com"], "expires_in": "90m"})
    if minutes:
        assert response.status_code == 201, response.text
    else:
        assert response.status_code == 400 and error_code(response) == "root.invalid_data"
        assert emu.invitations() == []
        assert client.post(
            path, json={"emails": ["new@example.com"], "expires_in": "2h"}
        ).is_success


@pytest.mark.parametrize("named", [True, False])
@pytest.mark.parametrize("wide", [True, False])
def test_a_hidden_deployment_fails_calls_naming_it_or_all_or_not(emu, client, named, wide):
    emu.set_semantics(hidden_refuses_named=named, hidden_refuses_all=wide)
    a, stopped = emu.add_deployment("a"), emu.add_deployment("stopped")
    user = emu.add_member("alice@example.com")
    emu.set_hidden(stopped)
    response = add(client, user, {"deployment": [dep_assignment(VIEWER, [stopped])]})
    assert response.status_code == (403 if named else 200)
    response = add(client, user, {"deployment": [_all(EDITOR)]})
    assert response.status_code == (403 if wide else 200)
    ok(add(client, user, {"deployment": [dep_assignment(VIEWER, [a])]}))  # others unaffected


def test_semantics_are_set_at_construction_and_keep_the_old_switch():
    assert SPEC_DIR is not None
    with ElasticEmulator(
        SPEC_DIR, API_KEY, ORG, semantics=Semantics(all_absorbs=False, one_organization_role=True)
    ) as emulator:
        assert not emulator.semantics.all_absorbs and emulator.semantics.one_organization_role
        assert not emulator.one_role_per_resource
        emulator.one_role_per_resource = True  # #13 item 8's switch: both kinds of resource
        assert emulator.semantics.one_role_per_resource and emulator.semantics.one_organization_role
        with httpx.Client(base_url=emulator.url + "/api/v1") as http:
            assert http.get(f"/organizations/{ORG}").status_code == 401
