"""Issue #14 §1 in the core, on in-memory ports: a project's custom role is granted as the
viewer role with ``application_roles`` and its end removes exactly that unit; the project's
roles are read again when a request is filed (a role gone since the cache, or Elastic not
answering, files nothing); a stack-role entry beside the same role is refused at filing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.access.errors import AccessError, InvalidRequest, NotAllowed
from bot.access.ports import UpstreamError
from bot.access.resources import Resource, ResourceKind, Unit
from bot.access.states import State
from tests.unit.memory import ALICE_ELASTIC, OLIVIA, World

PROJECT_ID = "c" * 32
SCOPE = "project:elasticsearch"
MARKETING = Unit(SCOPE, "elasticsearch-viewer", PROJECT_ID, ("marketing-reader",))
PLAIN = Unit(SCOPE, "elasticsearch-viewer", PROJECT_ID)


@pytest.fixture
def project(world: World) -> Resource:
    return world.catalogue.add(
        Resource(
            ResourceKind.PROJECT,
            PROJECT_ID,
            "search-prod",
            "elasticsearch",
            stack_roles=("marketing-reader",),
        )
    )


def test_a_custom_role_is_granted_with_application_roles_and_removed_exactly(world, project):
    world.elastic.add_member(
        "alice@example.com", ALICE_ELASTIC, [Unit(SCOPE, "elasticsearch-viewer", "d" * 32)]
    )
    request = world.granted(role="marketing-reader", resource="search-prod")
    assert request.state is State.ACTIVE and request.unit == MARKETING
    assert MARKETING in world.alice_holds()
    world.pass_time(timedelta(hours=1))
    world.expire_all()
    assert world.state(request.id) is State.EXPIRED
    assert world.alice_holds() == {Unit(SCOPE, "elasticsearch-viewer", "d" * 32)}


def test_a_role_the_project_no_longer_lists_is_refused_when_filed(world, project):
    world.catalogue.live[PROJECT_ID] = ("other-role",)
    with pytest.raises(InvalidRequest, match="not a role"):
        world.file(role="marketing-reader", resource="search-prod")
    assert world.store.list_requests()[1] == 0


def test_elastic_not_answering_for_the_roles_files_nothing(world, project):
    world.catalogue.failing = UpstreamError("HTTP 503", retryable=True)
    with pytest.raises(AccessError, match="did not answer when I read the roles"):
        world.file(role="marketing-reader", resource="search-prod")
    assert world.store.list_requests()[1] == 0 and world.elastic.calls == []


def test_beside_a_plain_viewer_entry_there_is_refused_at_filing(world, project):
    world.elastic.add_member("alice@example.com", ALICE_ELASTIC, [PLAIN])
    with pytest.raises(NotAllowed, match="You already hold elasticsearch-viewer there"):
        world.file(role="marketing-reader", resource="search-prod")
    assert world.store.list_requests()[1] == 0


def test_a_role_gone_between_filing_and_granting_fails_the_grant(world, project):
    """Read again when granted: a role the project stopped listing after the request was
    filed is never sent; the request fails with the reason."""
    request = world.file(role="marketing-reader", resource="search-prod")
    world.catalogue.live[PROJECT_ID] = ("other-role",)
    world.service.decide(request.id, OLIVIA.id, approve=True)
    assert world.state(request.id) is State.FAILED
    assert "no longer has the role `marketing-reader`" in world.service.get(request.id).last_error
    assert MARKETING not in world.alice_holds()
