"""Units ⇄ Elastic ``RoleAssignments`` bodies: what the bot sends is exactly what it means."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.access.resources import DEPLOYMENT_ROLES, ORGANIZATION_ROLES, PROJECT_ROLES, Unit
from bot.elastic.assignments import from_assignments, to_body
from bot.elastic.models import RoleAssignments
from bot.standins.shared import elastic_spec_dir, missing_shared

ORG = "1234567890"
DEP_A, DEP_B = "a" * 32, "b" * 32
PATH = "/api/v1/users/123/role_assignments"


def _round_trip(units) -> frozenset[Unit]:
    return from_assignments(RoleAssignments.model_validate(to_body(units, ORG)))


def test_nothing_is_an_empty_body():
    assert to_body([], ORG) == {}
    assert from_assignments(None) == frozenset()
    assert from_assignments(RoleAssignments()) == frozenset()


def test_organization_role():
    body = to_body([Unit("organization", "billing-admin", ORG)], ORG)
    assert body == {"organization": [{"role_id": "billing-admin", "organization_id": ORG}]}


def test_deployment_ids_are_grouped_per_role():
    units = [
        Unit("deployment", "deployment-viewer", DEP_B),
        Unit("deployment", "deployment-viewer", DEP_A),
        Unit("deployment", "deployment-editor", DEP_A),
    ]
    body = to_body(units, ORG)
    assert set(body) == {"deployment"}
    by_role = {d["role_id"]: d for d in body["deployment"]}
    assert by_role == {
        "deployment-viewer": {
            "role_id": "deployment-viewer",
            "organization_id": ORG,
            "all": False,
            "deployment_ids": [DEP_A, DEP_B],
        },
        "deployment-editor": {
            "role_id": "deployment-editor",
            "organization_id": ORG,
            "all": False,
            "deployment_ids": [DEP_A],
        },
    }


def test_all_deployments_is_all_true_without_ids():
    body = to_body([Unit("deployment", "deployment-admin", "*")], ORG)
    assert body == {
        "deployment": [{"role_id": "deployment-admin", "organization_id": ORG, "all": True}]
    }


def test_all_and_specific_for_the_same_role_stay_separate():
    units = [
        Unit("deployment", "deployment-viewer", "*"),
        Unit("deployment", "deployment-viewer", DEP_A),
    ]
    body = to_body(units, ORG)
    assert sorted(body["deployment"], key=lambda d: d["all"]) == [
        {
            "role_id": "deployment-viewer",
            "organization_id": ORG,
            "all": False,
            "deployment_ids": [DEP_A],
        },
        {"role_id": "deployment-viewer", "organization_id": ORG, "all": True},
    ]
    assert _round_trip(units) == frozenset(units)


def test_projects_are_keyed_by_type():
    units = [
        Unit("project:elasticsearch", "elasticsearch-viewer", "p1"),
        Unit("project:elasticsearch", "elasticsearch-viewer", "p2"),
        Unit("project:security", "security-t1-analyst", "*"),
        Unit("project:observability", "observability-admin", "p3"),
    ]
    body = to_body(units, ORG)
    assert set(body) == {"project"}
    assert body["project"] == {
        "elasticsearch": [
            {
                "role_id": "elasticsearch-viewer",
                "organization_id": ORG,
                "all": False,
                "project_ids": ["p1", "p2"],
            }
        ],
        "security": [{"role_id": "security-t1-analyst", "organization_id": ORG, "all": True}],
        "observability": [
            {
                "role_id": "observability-admin",
                "organization_id": ORG,
                "all": False,
                "project_ids": ["p3"],
            }
        ],
    }


def test_duplicates_are_sent_once():
    unit = Unit("deployment", "deployment-viewer", DEP_A)
    body = to_body([unit, unit, unit], ORG)
    assert body["deployment"][0]["deployment_ids"] == [DEP_A]


def test_unknown_scope_is_refused():
    with pytest.raises(ValueError, match="unknown unit scope"):
        to_body([Unit("cluster", "admin", "x")], ORG)


def test_from_assignments_flattens_what_elastic_returns():
    assignments = RoleAssignments.model_validate(
        {
            "organization": [{"role_id": "organization-admin", "organization_id": ORG}],
            "deployment": [
                {"role_id": "deployment-viewer", "organization_id": ORG, "all": True},
                {
                    "role_id": "deployment-editor",
                    "organization_id": ORG,
                    "all": False,
                    "deployment_ids": [DEP_A, DEP_B],
                },
            ],
            "project": {
                "security": [
                    {
                        "role_id": "security-admin",
                        "organization_id": ORG,
                        "all": False,
                        "project_ids": ["p1"],
                    }
                ],
                "elasticsearch": [
                    {"role_id": "elasticsearch-admin", "organization_id": ORG, "all": True}
                ],
            },
            "platform": [{"role_id": "ignored"}],  # unknown fields never break a read
        }
    )
    assert from_assignments(assignments) == {
        Unit("organization", "organization-admin", ORG),
        Unit("deployment", "deployment-viewer", "*"),
        Unit("deployment", "deployment-editor", DEP_A),
        Unit("deployment", "deployment-editor", DEP_B),
        Unit("project:security", "security-admin", "p1"),
        Unit("project:elasticsearch", "elasticsearch-admin", "*"),
    }


# -- property: any set of units survives the trip, and Elastic's spec accepts the body ---------

_ids = st.text(alphabet="0123456789abcdef", min_size=1, max_size=32)
_target = st.one_of(st.just("*"), _ids)
_units = st.frozensets(
    st.one_of(
        st.builds(Unit, st.just("organization"), st.sampled_from(ORGANIZATION_ROLES), st.just(ORG)),
        st.builds(Unit, st.just("deployment"), st.sampled_from(DEPLOYMENT_ROLES), _target),
        *(
            st.builds(Unit, st.just(f"project:{kind}"), st.sampled_from(roles), _target)
            for kind, roles in PROJECT_ROLES.items()
        ),
    ),
    max_size=12,
)


@given(_units)
def test_round_trip_through_role_assignments(units):
    assert _round_trip(units) == units


@given(_units)
def test_body_is_deterministic(units):
    assert to_body(list(units), ORG) == to_body(sorted(units, reverse=True), ORG)


@pytest.fixture(scope="module")
def spec_validator():
    spec_dir = elastic_spec_dir()
    if spec_dir is None:
        missing_shared("elastic-cloud-api (Elastic's published API specs)")
    from bot.standins.elastic.validator import SpecValidator

    return SpecValidator(spec_dir)


@settings(max_examples=60)
@given(units=_units)
def test_every_body_conforms_to_the_published_spec(spec_validator, units):
    body = to_body(units, ORG)
    assert spec_validator.validate("POST", PATH, {}, body) == []
    assert spec_validator.validate("DELETE", PATH, {}, body) == []
