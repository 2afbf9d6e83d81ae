"""On a bare clone (no published specs beside the checkout) the Elastic emulator still refuses
a malformed request, by its own request models (``bot/standins/elastic/models.py``): a client
bug must fail the tests everywhere, not only where ``../shared`` is. With the specs at hand,
the models and the specs agree on the bot's own bodies and on malformed ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.access.resources import DEPLOYMENT_ROLES, ORGANIZATION_ROLES, PROJECT_ROLES, Unit
from bot.elastic.assignments import to_body
from bot.elastic.client import ElasticClient, RetryPolicy
from bot.standins.elastic.emulator import ElasticEmulator
from bot.standins.elastic.models import OPERATIONS
from bot.standins.elastic.routes import ROUTES
from bot.standins.elastic.validator import SpecValidator
from bot.standins.shared import elastic_spec_dir, missing_shared

API_KEY = "essu_models_key"
ORG = "1234567890"
ROLES = "/api/v1/users/1/role_assignments"
INVITE = f"/api/v1/organizations/{ORG}/invitations"
SEARCH = "/api/v1/deployments/_search"


@pytest.fixture
def bare() -> Iterator[ElasticEmulator]:
    """The emulator as a bare clone runs it: no specs, whatever ../shared holds."""
    with ElasticEmulator(None, API_KEY, ORG) as emulator:
        assert not emulator.validator.documented
        yield emulator


@pytest.fixture
def http(bare: ElasticEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=bare.url, headers={"Authorization": f"ApiKey {API_KEY}"}, timeout=5
    ) as client:
        yield client


def entry(role: str, **fields: Any) -> dict[str, Any]:
    return {"role_id": role, "organization_id": ORG, **fields}


DEP = "d" * 32
PROJECT = "a" * 32

#: (name, method, path, query, body, a fragment of the refusal); every one is refused with
#: and without the specs.
MALFORMED: list[tuple[str, str, str, dict[str, list[str]], Any, str]] = [
    (
        "misspelt-ids",
        "POST",
        ROLES,
        {},
        {"deployment": [entry("deployment-viewer", all=False, deploymnet_ids=[DEP])]},
        "'deploymnet_ids'",
    ),
    (
        "misspelt-kind",
        "POST",
        ROLES,
        {},
        {"deployments": [entry("deployment-viewer", deployment_ids=[DEP])]},
        "'deployments'",
    ),
    ("misspelt-organization", "POST", ROLES, {}, {"organisation": []}, "'organisation'"),
    (
        "extra-property",
        "POST",
        ROLES,
        {},
        {"deployment": [entry("deployment-viewer", deployment_ids=[DEP], colour="blue")]},
        "'colour'",
    ),
    (
        "unknown-project-type",
        "POST",
        ROLES,
        {},
        {"project": {"search": [entry("elasticsearch-viewer", all=True)]}},
        "'search'",
    ),
    (
        "missing-deployment-ids",
        "POST",
        ROLES,
        {},
        {"deployment": [entry("deployment-viewer", all=False)]},
        "deployment_ids",
    ),
    (
        "missing-project-ids",
        "DELETE",
        ROLES,
        {},
        {"project": {"security": [entry("security-viewer")]}},
        "project_ids",
    ),
    (
        "ids-with-all",
        "POST",
        ROLES,
        {},
        {"deployment": [entry("deployment-viewer", all=True, deployment_ids=[DEP])]},
        "must be absent",
    ),
    (
        "missing-role-id",
        "POST",
        ROLES,
        {},
        {"deployment": [{"organization_id": ORG, "all": True}]},
        "'role_id' is a required property",
    ),
    (
        "missing-organization-id",
        "DELETE",
        ROLES,
        {},
        {"organization": [{"role_id": "billing-admin"}]},
        "'organization_id' is a required property",
    ),
    (
        "all-not-boolean",
        "POST",
        ROLES,
        {},
        {"deployment": [entry("deployment-viewer", all="true", deployment_ids=[DEP])]},
        "not of type 'boolean'",
    ),
    (
        "ids-not-an-array",
        "POST",
        ROLES,
        {},
        {"deployment": [entry("deployment-viewer", deployment_ids=DEP)]},
        "not of type 'array'",
    ),
    (
        "application-roles-not-strings",
        "POST",
        ROLES,
        {},
        {"deployment": [entry("deployment-viewer", deployment_ids=[DEP], application_roles=[1])]},
        "not of type 'string'",
    ),
    (
        "role-id-null",
        "POST",
        ROLES,
        {},
        {"organization": [{"role_id": None, "organization_id": ORG}]},
        "not of type 'string'",
    ),
    (
        "kind-not-an-array",
        "POST",
        ROLES,
        {},
        {"deployment": entry("deployment-viewer", all=True)},
        "not of type 'array'",
    ),
    ("post-without-body", "POST", ROLES, {}, None, "request body is required"),
    ("delete-without-body", "DELETE", ROLES, {}, None, "request body is required"),
    ("unknown-query", "POST", ROLES, {"dry_run": ["true"]}, {}, "'dry_run'"),
    ("invitation-no-emails", "POST", INVITE, {}, {"expires_in": "3d"}, "'emails'"),
    ("invitation-email-string", "POST", INVITE, {}, {"emails": "a@example.com"}, "emails"),
    (
        "invitation-misspelt",
        "POST",
        INVITE,
        {},
        {"emails": ["a@example.com"], "expires": "3d"},
        "'expires'",
    ),
    (
        "invitation-bad-assignment",
        "POST",
        INVITE,
        {},
        {"emails": ["a@example.com"], "role_assignments": {"deployment": [entry("x")]}},
        "deployment_ids",
    ),
    ("search-size-string", "POST", SEARCH, {}, {"size": "10"}, "body.size"),
    ("search-misspelt", "POST", SEARCH, {}, {"szie": 10}, "'szie'"),
    (
        "search-term-shorthand",
        "POST",
        SEARCH,
        {},
        {"query": {"term": {"name": "prod"}}},
        "not of type 'object'",
    ),
    (
        "search-nested-without-path",
        "POST",
        SEARCH,
        {},
        {"query": {"nested": {"query": {"match_all": {}}}}},
        "'path'",
    ),
    ("body-on-a-get", "GET", f"/api/v1/organizations/{ORG}/members", {}, {}, "no request body"),
    ("body-on-a-delete", "DELETE", f"{INVITE}/abc", {}, {"tokens": ["abc"]}, "no request body"),
    (
        "query-not-boolean",
        "GET",
        f"/api/v1/deployments/{DEP}",
        {"show_metadata": ["yes"]},
        None,
        "show_metadata",
    ),
    ("query-unknown", "GET", f"/api/v1/deployments/{DEP}", {"verbose": ["1"]}, None, "verbose"),
    (
        "query-on-members",
        "GET",
        f"/api/v1/organizations/{ORG}/members",
        {"page": ["2"]},
        None,
        "page",
    ),
    (
        "tags-not-deep",
        "GET",
        "/api/v1/serverless/projects/security",
        {"tags": ["owner"]},
        None,
        "tags[name]=value",
    ),
    ("project-id", "GET", "/api/v1/serverless/projects/security/short", {}, None, "'id'"),
]

#: Requests both the specs and the models accept.
VALID: list[tuple[str, str, dict[str, list[str]], Any]] = [
    (
        "POST",
        ROLES,
        {},
        {
            "deployment": [
                entry("deployment-editor", all=False, deployment_ids=[DEP]),
                entry("deployment-viewer", all=True, application_roles=[]),
            ],
            "project": {},
        },
    ),
    ("DELETE", ROLES, {}, {"organization": [{"role_id": "billing-admin", "organization_id": ORG}]}),
    ("POST", ROLES, {}, {"platform": [{"role_id": "anything"}]}),
    ("POST", SEARCH, {}, {"size": 100, "sort": ["id"]}),
    ("POST", SEARCH, {}, {"cursor": "abc"}),
    ("POST", SEARCH, {}, None),
    (
        "POST",
        SEARCH,
        {"minimal_metadata": ["id,name"]},
        {
            "query": {
                "bool": {
                    "must": [{"term": {"name": {"value": "prod"}}}],
                    "filter": [
                        {
                            "nested": {
                                "path": "metadata.tags",
                                "query": {"prefix": {"metadata.tags.key": {"value": "own"}}},
                            }
                        }
                    ],
                    "should": [{"match": {"name": {"query": "prod"}}}, {"exists": {"field": "id"}}],
                }
            },
            "from": 0,
            "size": 5,
        },
    ),
    ("GET", f"/api/v1/organizations/{ORG}/members", {}, None),
    (
        "GET",
        f"/api/v1/deployments/{DEP}",
        {"show_metadata": ["true"], "show_system_alerts": ["3"]},
        None,
    ),
    ("GET", "/api/v1/serverless/projects/security", {"tags[owner]": ["team-a"]}, None),
    ("GET", f"/api/v1/serverless/projects/observability/{PROJECT}/roles", {}, None),
    ("DELETE", f"/api/v1/organizations/{ORG}/members/1,2", {"force": ["false"]}, None),
    ("POST", INVITE, {}, {"emails": ["a@example.com"], "expires_in": "3d"}),
]


# -- a bare clone ---------------------------------------------------------------------------------


def test_every_served_operation_has_request_models() -> None:
    assert set(OPERATIONS) == {route[3] for route in ROUTES}


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "fragment"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_a_bare_clone_refuses_malformed_requests_with_400(
    bare: ElasticEmulator,
    http: httpx.Client,
    method: str,
    path: str,
    query: dict,
    body: Any,
    fragment: str,
) -> None:
    user = bare.add_member("alice@example.com", user_id="1")
    bare.add_deployment("prod", deployment_id=DEP)
    before = bare.member(user)
    response = http.request(method, path, params=query, json=body)
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    params_only = bool(query) or path.endswith("/short")
    assert error["code"] == ("root.invalid_data" if params_only else "root.invalid_json_request")
    assert fragment in error["message"], error["message"]
    assert bare.member(user) == before
    [violation] = bare.spec_violations()
    assert violation["status"] == 400 and any(fragment in e for e in violation["spec_errors"])


@pytest.mark.parametrize(("method", "path", "query", "body"), VALID)
def test_the_models_accept_well_formed_requests(method, path, query, body) -> None:
    assert SpecValidator(None).validate(method, path, query, body) == []


def test_a_bare_clone_names_the_field_in_the_refusal(http: httpx.Client, bare) -> None:
    user = bare.add_member("alice@example.com")
    body = {"deployment": [entry("deployment-viewer", all=False, deploymnet_ids=[DEP])]}
    response = http.post(f"/api/v1/users/{user}/role_assignments", json=body)
    assert response.status_code == 400
    assert response.headers["x-cloud-error-codes"] == "root.invalid_json_request"
    assert response.json()["errors"] == [
        {
            "code": "root.invalid_json_request",
            "message": "body.deployment[0]: 'deploymnet_ids' is not a declared property",
        }
    ]


STACK = ("kibana_admin", "viewer")


def _client_requests(emulator: ElasticEmulator) -> list[dict[str, Any]]:
    """Drive the bot's own client through every call it makes; the emulator's record."""
    dep = emulator.add_deployment("prod", tags={"owner": "team-a"})
    project = emulator.add_project("security", "siem", roles=["analyst"])
    user = emulator.add_member("alice@example.com")
    emulator.add_member("bob@example.com", user_id="42")
    units = [
        Unit("organization", "billing-admin", ORG),
        Unit("deployment", "deployment-viewer", dep),
        Unit("deployment", "deployment-editor", dep, ()),
        Unit("deployment", "deployment-admin", "*", STACK),
        Unit("project:security", "security-viewer", project, ("analyst",)),
        Unit("project:elasticsearch", "elasticsearch-viewer", "*"),
        Unit("project:observability", "observability-viewer", "*", ()),
    ]
    client = ElasticClient(
        emulator.url, API_KEY, ORG, timeout=5, retry=RetryPolicy(attempts=1, total=5)
    )
    try:
        client.organization()
        client.members()
        for unit in units:
            client.add_units(user, [unit])
        client.add_units(user, units)
        client.remove_units(user, units)
        token = client.invite("carol@example.com", [units[1]], "72h")
        client.invite("dave@example.com", [units[3]], "24h")
        client.pending_invitations()
        client.invitation_states()
        client.delete_invitation(token)
        list(client.deployments(page_size=1))
        client.deployment_state(dep)
        for kind in PROJECT_ROLES:
            client.projects(kind)
        client.project_roles("security", project)
        client.remove_member("42")
    finally:
        client.close()
    return [dict(call) for call in emulator.calls]


def test_the_bots_own_requests_are_accepted_on_a_bare_clone(bare: ElasticEmulator) -> None:
    calls = _client_requests(bare)
    assert {c["status"] for c in calls} <= {200, 201}, [
        (c["method"], c["path"], c["status"], c["response"]) for c in calls if c["status"] >= 300
    ]
    assert bare.spec_violations() == []
    bodies = [c["body"] for c in calls if c["path"].endswith("/role_assignments")]
    assert any("application_roles" in str(b) for b in bodies)
    assert any(c["path"].endswith("/invitations") and c["method"] == "POST" for c in calls)


# -- the models against the specs ----------------------------------------------------------------


@pytest.fixture(scope="module")
def documented() -> SpecValidator:
    spec_dir = elastic_spec_dir()
    if spec_dir is None:
        missing_shared("elastic-cloud-api (Elastic's published API specs)")
    return SpecValidator(spec_dir)


def test_the_models_take_what_the_specs_take_for_each_operation(documented) -> None:
    """Same bodies (present, required), same query and path parameter names."""
    by_id = {op.operation_id: op for op in documented.operations}
    for operation_id, models in OPERATIONS.items():
        op = by_id[operation_id]
        assert (models.body is not None) == (op.body_schema is not None), operation_id
        assert models.body_required == op.body_required, operation_id
        query = {p.name for p in op.params if p.location == "query"}
        assert set(models.query.model_fields) == query, operation_id
        patterned = {p.name for p in op.params if p.location == "path" and "pattern" in p.schema}
        assert set(models.path.model_fields if models.path else ()) == patterned, operation_id


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "fragment"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_the_specs_refuse_what_the_models_refuse(documented, method, path, query, body, fragment):
    bare = SpecValidator(None)
    with_specs = documented.check(method, path, query, body)
    without = bare.check(method, path, query, body)
    assert (
        (with_specs.status, with_specs.code)
        == (without.status, without.code)
        == (
            400,
            with_specs.code,
        )
    )
    assert with_specs.errors and without.errors


@pytest.mark.parametrize(("method", "path", "query", "body"), VALID)
def test_the_specs_accept_what_the_models_accept(documented, method, path, query, body) -> None:
    assert documented.validate(method, path, query, body) == []


_ids = st.text(alphabet="0123456789abcdef", min_size=1, max_size=32)
_apps = st.one_of(st.none(), st.just(()), st.tuples(st.sampled_from(STACK + ("analyst",))))
_units = st.frozensets(
    st.one_of(
        st.builds(Unit, st.just("organization"), st.sampled_from(ORGANIZATION_ROLES), st.just(ORG)),
        st.builds(
            Unit,
            st.just("deployment"),
            st.sampled_from(DEPLOYMENT_ROLES),
            st.one_of(st.just("*"), _ids),
            _apps,
        ),
        *(
            st.builds(
                Unit,
                st.just(f"project:{kind}"),
                st.sampled_from(roles),
                st.one_of(st.just("*"), _ids),
                _apps,
            )
            for kind, roles in PROJECT_ROLES.items()
        ),
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=60, deadline=None)
@given(units=_units)
def test_the_bots_bodies_pass_the_specs_and_the_models_alike(documented, units) -> None:
    bare = SpecValidator(None)
    body = to_body(units, ORG)
    invitation = {"emails": ["a@example.com"], "expires_in": "72h", "role_assignments": body}
    for method, path, sent in (
        ("POST", ROLES, body),
        ("DELETE", ROLES, body),
        ("POST", INVITE, invitation),
    ):
        assert documented.validate(method, path, {}, sent) == []
        assert bare.validate(method, path, {}, sent) == []


def test_the_bots_recorded_requests_pass_the_specs(documented) -> None:
    """Every request the client sent to a bare emulator conforms to the specs as well."""
    with ElasticEmulator(None, API_KEY, ORG) as emulator:
        calls = _client_requests(emulator)
    for call in calls:
        assert (
            documented.validate(call["method"], call["path"], call["query"], call["body"]) == []
        ), (
            call["method"],
            call["path"],
        )
