"""The Elastic Cloud emulator refuses what the published specs refuse and behaves like the
real service where the bot depends on it (merge/subtract semantics, hidden deployments,
cursor paging, invitations), so tests built on it mean something."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bot.standins.shared import elastic_spec_dir, in_ci, missing_shared

SPEC_DIR = elastic_spec_dir()
if SPEC_DIR is None:
    if in_ci():
        missing_shared("elastic-cloud-api (Elastic's published API specs)")
    pytest.skip(
        "Elastic Cloud specs not found: set ELASTIC_ACCESS_SHARED to the shared folder "
        "holding elastic-cloud-api/ (default: <repo>/../shared)",
        allow_module_level=True,
    )

from bot.standins.elastic.emulator import ElasticEmulator  # noqa: E402
from bot.standins.elastic.validator import SpecValidator  # noqa: E402

API_KEY = "essu_test_key"
ORG = "1234567890"


@pytest.fixture(scope="module")
def validator() -> SpecValidator:
    assert SPEC_DIR is not None
    return SpecValidator(SPEC_DIR)


@pytest.fixture
def emu() -> Iterator[ElasticEmulator]:
    assert SPEC_DIR is not None
    with ElasticEmulator(SPEC_DIR, API_KEY, ORG) as emulator:
        yield emulator


@pytest.fixture
def client(emu: ElasticEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emu.url + "/api/v1",
        headers={"Authorization": f"ApiKey {API_KEY}"},
        timeout=5,
    ) as http:
        yield http


def dep_assignment(role: str, ids: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"role_id": role, "organization_id": ORG, **extra}
    if ids is not None:
        entry.update(all=False, deployment_ids=ids)
    return entry


def add(client: httpx.Client, user_id: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/users/{user_id}/role_assignments", json=body)


def remove(client: httpx.Client, user_id: str, body: dict[str, Any]) -> httpx.Response:
    return client.request("DELETE", f"/users/{user_id}/role_assignments", json=body)


def ok(response: httpx.Response) -> httpx.Response:
    assert response.status_code == 200, response.text
    return response


def error_code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["code"]


# -- request validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "ApiKey wrong"}, {"Authorization": f"Bearer {API_KEY}"}],
    ids=["missing", "wrong-key", "wrong-scheme"],
)
def test_requests_without_the_api_key_get_401(emu: ElasticEmulator, headers: dict) -> None:
    response = httpx.get(f"{emu.url}/api/v1/organizations/{ORG}/members", headers=headers)
    assert response.status_code == 401
    assert error_code(response) == "root.unauthorized"
    assert response.headers["x-cloud-error-codes"] == "root.unauthorized"
    assert emu.calls[-1]["status"] == 401


def test_unknown_path_is_404_and_wrong_method_is_405(client: httpx.Client) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert error_code(response) == "root.resource_not_found"
    response = client.put("/organizations", json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert client.get(f"/organizations/{ORG}/members/").status_code == 404  # exact paths only


def test_responses_carry_json_and_rate_limit_headers(client: httpx.Client) -> None:
    response = client.get("/organizations")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    for name in ("x-ratelimit-interval", "x-ratelimit-remaining", "x-ratelimit-limit"):
        assert response.headers[name]
    assert response.json()["organizations"][0] == {
        "id": ORG,
        "name": "Acme",
        "default_disk_usage_alerts_enabled": True,
        "notifications_allowed_email_domains": [],
        "billing_contacts": [],
        "operational_contacts": [],
    }
    other = client.get("/organizations/999")
    assert (other.status_code, error_code(other)) == (404, "organization.not_found")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"deployment": [dep_assignment("deployment-editor", all=False)]}, "deployment_ids"),
        ({"deployment": [dep_assignment("deployment-editor")]}, "deployment_ids"),
        (
            {"deployment": [dep_assignment("deployment-editor", all=True, deployment_ids=["x"])]},
            "must be absent",
        ),
        ({"deployment": [{"organization_id": ORG, "all": True}]}, "'role_id' is a required"),
        ({"organization": [{"role_id": "billing-admin"}]}, "'organization_id' is a required"),
        ({"deployment": [dep_assignment("deployment-editor", all="yes")]}, "not of type"),
        ({"deployment": {"role_id": "deployment-editor"}}, "not of type 'array'"),
        (
            {"project": {"security": [{"role_id": "security-admin", "organization_id": ORG}]}},
            "project_ids",
        ),
    ],
    ids=[
        "all-false-no-ids",
        "all-absent-no-ids",
        "all-true-with-ids",
        "missing-role-id",
        "missing-org-id",
        "all-wrong-type",
        "not-an-array",
        "project-no-ids",
    ],
)
def test_invalid_role_assignment_bodies_are_400_and_change_nothing(
    emu: ElasticEmulator, client: httpx.Client, body: dict, fragment: str
) -> None:
    user = emu.add_member("alice@example.com")
    emu.add_deployment("prod")
    before = emu.member(user)
    response = add(client, user, body)
    assert response.status_code == 400
    assert error_code(response) == "root.invalid_json_request"
    assert fragment in response.json()["errors"][0]["message"]
    assert emu.member(user) == before


def test_body_presence_and_encoding_are_enforced(
    emu: ElasticEmulator, client: httpx.Client
) -> None:
    user = emu.add_member("alice@example.com")
    assert client.post(f"/users/{user}/role_assignments").status_code == 400  # body required
    assert client.request("DELETE", f"/users/{user}/role_assignments").status_code == 400
    no_body_allowed = client.request("GET", f"/organizations/{ORG}/members", json={})
    assert no_body_allowed.status_code == 400
    malformed = client.post(
        f"/users/{user}/role_assignments",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert (malformed.status_code, error_code(malformed)) == (400, "root.invalid_json_request")
    not_json = client.post(f"/users/{user}/role_assignments", content=b"{}")
    assert not_json.status_code == 415


def test_query_parameters_are_checked(emu: ElasticEmulator, client: httpx.Client) -> None:
    dep = emu.add_deployment("prod")
    assert client.get(f"/deployments/{dep}", params={"show_metadata": "true"}).status_code == 200
    unknown = client.get(f"/deployments/{dep}", params={"verbose": "1"})
    assert (unknown.status_code, error_code(unknown)) == (400, "root.invalid_data")
    assert client.get(f"/deployments/{dep}", params={"show_plans": "yes"}).status_code == 400
    assert client.get(f"/deployments/{dep}", params={"show_system_alerts": "x"}).status_code == 400
    required = client.post("/deployments/eligible-remote-clusters", json={})
    assert "'version' is missing" in required.json()["errors"][0]["message"]


# -- role assignments ---------------------------------------------------------------------


def test_add_then_remove_shows_in_members_list(emu: ElasticEmulator, client: httpx.Client) -> None:
    a = emu.add_deployment("prod")
    project = emu.add_project("elasticsearch", "search")
    user = emu.add_member("alice@example.com", name="Alice")
    grant = {
        "organization": [{"role_id": "billing-admin", "organization_id": ORG}],
        "deployment": [dep_assignment("deployment-editor", [a])],
        "project": {
            "elasticsearch": [
                {
                    "role_id": "elasticsearch-developer",
                    "organization_id": ORG,
                    "all": False,
                    "project_ids": [project],
                }
            ]
        },
    }
    response = add(client, user, grant)
    assert (response.status_code, response.json()) == (200, {})

    members = client.get(f"/organizations/{ORG}/members").json()["members"]
    (alice,) = members
    assert alice["email"] == "alice@example.com"
    assert alice["role_assignments"] == {
        "organization": [{"role_id": "billing-admin", "organization_id": ORG}],
        "deployment": [
            {"role_id": "deployment-editor", "organization_id": ORG, "deployment_ids": [a]}
        ],
        "project": {
            "elasticsearch": [
                {
                    "role_id": "elasticsearch-developer",
                    "organization_id": ORG,
                    "project_ids": [project],
                }
            ],
            "observability": [],
            "security": [],
        },
    }

    assert remove(client, user, grant).status_code == 200
    after = client.get(f"/organizations/{ORG}/members").json()["members"][0]
    assert after["role_assignments"] == {
        "organization": [],
        "deployment": [],
        "project": {"elasticsearch": [], "observability": [], "security": []},
    }


def test_merge_and_subtract_semantics(emu: ElasticEmulator, client: httpx.Client) -> None:
    a, b, c = (emu.add_deployment(n) for n in ("a", "b", "c"))
    user = emu.add_member("alice@example.com")
    editor = "deployment-editor"

    ok(add(client, user, {"deployment": [dep_assignment(editor, [a])]}))
    ok(add(client, user, {"deployment": [dep_assignment(editor, [b])]}))
    assert emu.holdings(user) == {("deployment", editor, a), ("deployment", editor, b)}

    # No reference counting (gotcha 8.1): granting `a` again then revoking it once
    # removes the standing access too.
    ok(add(client, user, {"deployment": [dep_assignment(editor, [a])]}))
    ok(remove(client, user, {"deployment": [dep_assignment(editor, [a])]}))
    assert emu.holdings(user) == {("deployment", editor, b)}

    # all:true replaces the ids; ids removed from an all-grant change nothing.
    ok(add(client, user, {"deployment": [dep_assignment(editor, all=True)]}))
    ok(add(client, user, {"deployment": [dep_assignment(editor, [c])]}))
    ok(remove(client, user, {"deployment": [dep_assignment(editor, [c])]}))
    assert emu.holdings(user) == {("deployment", editor, "*")}
    assert emu.member(user)["deployment"] == [
        {"role_id": editor, "organization_id": ORG, "all": True}
    ]
    ok(remove(client, user, {"deployment": [dep_assignment(editor, all=True)]}))
    assert emu.holdings(user) == set()

    # Roles are independent: viewer on `a` survives editor changes on `a`.
    ok(add(client, user, {"deployment": [dep_assignment("deployment-viewer", [a])]}))
    ok(add(client, user, {"deployment": [dep_assignment(editor, [a])]}))
    ok(remove(client, user, {"deployment": [dep_assignment(editor, [a])]}))
    assert emu.holdings(user) == {("deployment", "deployment-viewer", a)}


def test_hidden_or_unknown_ids_fail_the_whole_call_with_403(
    emu: ElasticEmulator, client: httpx.Client
) -> None:
    a, hidden = emu.add_deployment("a"), emu.add_deployment("stopped")
    user = emu.add_member("alice@example.com")
    ok(add(client, user, {"deployment": [dep_assignment("deployment-editor", [a, hidden])]}))
    emu.set_hidden(hidden)
    before = emu.member(user)

    for call in (add, remove):
        for body in (
            {"deployment": [dep_assignment("deployment-viewer", [a, hidden])]},
            {"deployment": [dep_assignment("deployment-editor", [a, "f" * 32])]},
            {
                "deployment": [dep_assignment("deployment-editor", [a])],
                "organization": [{"role_id": "billing-admin", "organization_id": "someone-else"}],
            },
            {
                "project": {
                    "security": [
                        {
                            "role_id": "security-viewer",
                            "organization_id": ORG,
                            "project_ids": ["0" * 32],
                        }
                    ]
                }
            },
        ):
            response = call(client, user, body)
            assert response.status_code == 403, body
            assert error_code(response) == "role_assignments.unauthorized_role_assignments"
            assert emu.member(user) == before

    # Revoking only what is still visible works (the recovery path of the design).
    ok(remove(client, user, {"deployment": [dep_assignment("deployment-editor", [a])]}))
    assert emu.holdings(user) == {("deployment", "deployment-editor", hidden)}


def test_unknown_user_and_unknown_role(emu: ElasticEmulator, client: httpx.Client) -> None:
    a = emu.add_deployment("a")
    body = {"deployment": [dep_assignment("deployment-editor", [a])]}
    response = add(client, "404404", body)
    assert (response.status_code, error_code(response)) == (
        400,
        "role_assignments.invalid_target_user_id",
    )
    user = emu.add_member("alice@example.com")
    bad_role = add(client, user, {"deployment": [dep_assignment("deployment-owner", [a])]})
    assert bad_role.status_code == 400
    wrong_prefix = {
        "project": {
            "security": [{"role_id": "elasticsearch-admin", "organization_id": ORG, "all": True}]
        }
    }
    assert add(client, user, wrong_prefix).status_code == 400
    assert emu.holdings(user) == set()


# -- discovery --------------------------------------------------------------------------


def test_search_pages_with_cursor_return_each_deployment_once(
    emu: ElasticEmulator, client: httpx.Client, validator: SpecValidator
) -> None:
    owners = {
        emu.add_deployment(f"d{i}", tags={"owner": f"team-{i}"}): f"team-{i}" for i in range(5)
    }
    ids = set(owners)
    emu.add_deployment("stopped", hidden=True)
    seen: list[str] = []
    body: dict[str, Any] = {"size": 2, "sort": ["id"]}
    pages = 0
    while True:
        response = client.post("/deployments/_search", json=body)
        assert response.status_code == 200
        page = response.json()
        assert validator.validate_response("POST", "/api/v1/deployments/_search", 200, page) == []
        assert page["match_count"] == 5
        assert page["return_count"] == len(page["deployments"]) <= 2
        seen += [d["id"] for d in page["deployments"]]
        pages += 1
        if "cursor" not in page:
            break
        body = {"cursor": page["cursor"]}
    assert pages == 3
    assert sorted(seen) == seen and set(seen) == ids and len(seen) == 5
    first = client.post("/deployments/_search", json={"size": 1, "sort": ["id"]}).json()
    (hit,) = first["deployments"]
    assert hit["id"] == min(ids)
    assert hit["metadata"]["tags"] == [{"key": "owner", "value": owners[hit["id"]]}]
    assert client.post("/deployments/_search", json={"cursor": "bogus"}).status_code == 400


def test_search_nested_tag_query_and_other_listings(
    emu: ElasticEmulator, client: httpx.Client
) -> None:
    mine = emu.add_deployment("search", tags=[("owner", "team-search"), ("env", "prod")])
    emu.add_deployment("other", tags={"owner": "team-obs"})
    hidden = emu.add_deployment("old", tags={"owner": "team-search"}, hidden=True)
    # Exactly what terraform-provider-ec builds for a tag filter.
    tag_clause = {
        "nested": {
            "path": "metadata.tags",
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"metadata.tags.key": {"value": "owner"}}},
                        {"term": {"metadata.tags.value": {"value": "team-search"}}},
                    ]
                }
            },
        }
    }
    query = {
        "bool": {
            "filter": [
                {"bool": {"must": [{"bool": {"minimum_should_match": 1, "should": [tag_clause]}}]}}
            ]
        }
    }
    found = client.post("/deployments/_search", json={"size": 100, "sort": ["id"], "query": query})
    assert [d["id"] for d in found.json()["deployments"]] == [mine]
    everything = client.post("/deployments/_search").json()  # no body: match all
    assert everything["match_count"] == 2
    assert hidden not in {d["id"] for d in client.get("/deployments").json()["deployments"]}
    one = client.get(f"/deployments/{hidden}").json()
    assert one["metadata"] == {"tags": [{"key": "owner", "value": "team-search"}], "hidden": True}
    missing = client.get(f"/deployments/{'0' * 32}")
    assert (missing.status_code, error_code(missing)) == (404, "deployments.deployment_not_found")


def test_serverless_projects_list_and_tag_filter(
    emu: ElasticEmulator, client: httpx.Client, validator: SpecValidator
) -> None:
    es = emu.add_project("elasticsearch", "Search Prod", tags={"owner": "team-search"})
    emu.add_project("elasticsearch", "Scratch")
    sec = emu.add_project("security", "SOC", tags={"owner": "team-sec"})
    listing = client.get("/serverless/projects/elasticsearch")
    assert listing.status_code == 200
    assert (
        validator.validate_response(
            "GET", "/api/v1/serverless/projects/elasticsearch", 200, listing.json()
        )
        == []
    )
    assert len(listing.json()["items"]) == 2
    filtered = client.get(
        "/serverless/projects/elasticsearch", params={"tags[owner]": "team-search"}
    )
    (item,) = filtered.json()["items"]
    assert item["id"] == es and item["metadata"]["tags"] == {"owner": "team-search"}
    assert item["metadata"]["organization_id"] == ORG
    security = client.get("/serverless/projects/security").json()["items"]
    assert [p["id"] for p in security] == [sec]
    bad_tag = client.get("/serverless/projects/elasticsearch", params={"tags[owner]": "Team A"})
    assert bad_tag.status_code == 400


# -- invitations -------------------------------------------------------------------------


def test_invitations_create_duplicate_delete_accept(
    emu: ElasticEmulator, client: httpx.Client, validator: SpecValidator
) -> None:
    dep = emu.add_deployment("prod")
    emu.add_member("member@example.com")
    roles = {"deployment": [dep_assignment("deployment-viewer", [dep])]}
    created = client.post(
        f"/organizations/{ORG}/invitations",
        json={"emails": ["bob@example.com"], "expires_in": "2h", "role_assignments": roles},
    )
    assert created.status_code == 201
    path = f"/api/v1/organizations/{ORG}/invitations"
    assert validator.validate_response("POST", path, 201, created.json()) == []
    (invitation,) = created.json()["invitations"]
    assert invitation["expired"] is False
    assert invitation["organization"] == {"id": ORG, "name": "Acme"}
    assert invitation["role_assignments"] == roles
    assert invitation["expires_at"] > invitation["created_at"]

    duplicate = client.post(
        f"/organizations/{ORG}/invitations", json={"emails": ["BOB@example.com"]}
    )
    assert error_code(duplicate) == "organization.invitation_already_exists"
    member = client.post(
        f"/organizations/{ORG}/invitations", json={"emails": ["member@example.com"]}
    )
    assert error_code(member) == "organization.user_organization_already_belongs"
    bad_email = client.post(f"/organizations/{ORG}/invitations", json={"emails": ["nope"]})
    assert error_code(bad_email) == "organization.invitation_invalid_email"
    hidden_roles = {"deployment": [dep_assignment("deployment-viewer", ["e" * 32])]}
    refused = client.post(
        f"/organizations/{ORG}/invitations",
        json={"emails": ["carol@example.com"], "role_assignments": hidden_roles},
    )
    assert refused.status_code == 403

    listed = client.get(f"/organizations/{ORG}/invitations").json()["invitations"]
    assert [i["email"] for i in listed] == ["bob@example.com"]
    gone = client.delete(f"/organizations/{ORG}/invitations/{invitation['token']},nope")
    assert (gone.status_code, error_code(gone)) == (404, "organization.invitation_not_found")
    assert len(emu.invitations()) == 1  # all-or-nothing

    user = emu.accept_invitation(invitation["token"])
    assert emu.holdings(user) == {("deployment", "deployment-viewer", dep)}
    assert emu.member_by_email("bob@example.com") == emu.member(user)
    assert emu.invitations() == []

    again = client.post(f"/organizations/{ORG}/invitations", json={"emails": ["dave@example.com"]})
    token = again.json()["invitations"][0]["token"]
    assert again.json()["invitations"][0]["expires_at"] > invitation["expires_at"]  # 3d default
    assert client.delete(f"/organizations/{ORG}/invitations/{token}").status_code == 200
    assert emu.invitations() == []


# -- fault injection and recording -----------------------------------------------------


def test_scripted_429_then_normal_and_no_state_change(
    emu: ElasticEmulator, client: httpx.Client
) -> None:
    dep = emu.add_deployment("prod")
    user = emu.add_member("alice@example.com")
    emu.script("POST", r"/role_assignments$", 429, headers={"Retry-After": "2"}, times=2)
    body = {"deployment": [dep_assignment("deployment-editor", [dep])]}
    for _ in range(2):
        response = add(client, user, body)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "2"
        assert response.headers["x-ratelimit-limit"]
    assert emu.holdings(user) == set()
    assert add(client, user, body).status_code == 200
    calls = emu.calls_to("POST", "/role_assignments")
    assert [c["status"] for c in calls] == [429, 429, 200]
    assert calls[0]["body"] == body and calls[0]["spec_errors"] == []
    assert calls[0]["headers"]["authorization"] == f"ApiKey {API_KEY}"
    assert calls[0]["time"] <= calls[-1]["time"]
    assert emu.spec_violations() == []
    emu.reset_calls()
    assert emu.calls == []


def test_scripted_html_body_and_slow_reply(emu: ElasticEmulator, client: httpx.Client) -> None:
    emu.script("GET", r"/members$", 502, raw_body=b"<html><body>Bad Gateway</body></html>")
    response = client.get(f"/organizations/{ORG}/members")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<html>")
    emu.script("*", r"/organizations$", 200, body={"organizations": []}, delay=1.0)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/organizations", timeout=0.2)
    assert client.get("/organizations").json()["organizations"][0]["id"] == ORG


def test_spec_violations_are_recorded_even_when_refused(
    emu: ElasticEmulator, client: httpx.Client
) -> None:
    client.post("/deployments/_search", json={"size": "ten"})
    (call,) = emu.spec_violations()
    assert call["status"] == 400 and "body.size" in call["spec_errors"][0]


# -- the validator on its own -------------------------------------------------------------


def test_validator_accepts_valid_requests(validator: SpecValidator) -> None:
    assert validator.operation_id("DELETE", "/api/v1/users/1/role_assignments") == (
        "remove-role-assignments"
    )
    assert validator.operation_id("POST", "/api/v1/deployments/_search") == "search-deployments"
    assert validator.operation_id("GET", "/api/v1/nothing") is None
    valid: list[tuple[str, str, dict, Any]] = [
        (
            "POST",
            "/api/v1/users/1/role_assignments",
            {},
            {
                "deployment": [
                    dep_assignment("deployment-editor", ["a"]),
                    dep_assignment("deployment-viewer", all=True),
                ],
                "project": {},
            },
        ),
        (
            "DELETE",
            "/api/v1/users/1/role_assignments",
            {},
            {"organization": [{"role_id": "billing-admin", "organization_id": ORG}]},
        ),
        ("POST", "/api/v1/deployments/_search", {}, {"size": 100, "sort": ["id"]}),
        ("POST", "/api/v1/deployments/_search", {}, None),
        ("GET", f"/api/v1/organizations/{ORG}/members", {}, None),
        ("GET", "/api/v1/serverless/projects/security", {"tags[owner]": ["team-a"]}, None),
        ("DELETE", f"/api/v1/organizations/{ORG}/members/1,2", {"force": ["false"]}, None),
        (
            "POST",
            f"/api/v1/organizations/{ORG}/invitations",
            {},
            {"emails": ["a@example.com"], "expires_in": "3d"},
        ),
    ]
    for method, path, query, body in valid:
        assert validator.validate(method, path, query, body) == [], (method, path)


def test_validator_rejects_invalid_requests(validator: SpecValidator) -> None:
    path = "/api/v1/users/1/role_assignments"
    assert validator.validate("POST", path, {}, {"deployment": [{"role_id": "x"}]})
    assert validator.validate("POST", path, {}, None) == ["request body is required"]
    assert validator.validate("POST", path, {"dry_run": ["true"]}, {})
    assert validator.validate("GET", "/api/v1/organizations", {}, {})
    assert validator.validate("PATCH", path, {}, {})
    assert validator.validate("POST", "/api/v1/deployments/_search", {}, {"size": "1"})
    assert validator.validate("GET", "/api/v1/serverless/projects/security", {"tags": ["x"]}, None)
    assert validator.validate("GET", "/api/v1/serverless/projects/security/short", {}, None)
    assert validator.validate("GET", "/api/v1/deployments/x?show_plans=True", None, None)
    assert validator.validate(
        "POST", f"/api/v1/organizations/{ORG}/invitations", {}, {"expires_in": "3d"}
    ) == ["body: 'emails' is a required property"]


def test_documented_responses_match_the_spec_schemas(
    emu: ElasticEmulator, client: httpx.Client, validator: SpecValidator
) -> None:
    """Every response whose status the spec documents has the documented shape."""
    dep = emu.add_deployment("prod", tags={"owner": "team-a"})
    emu.add_deployment("stopped", hidden=True)
    for kind in ("elasticsearch", "observability", "security"):
        emu.add_project(kind, f"{kind} one", tags={"owner": "team-a"})
        emu.add_project(kind, "untagged")
    user = emu.add_member("alice@example.com")
    grant = {"deployment": [dep_assignment("deployment-admin", [dep])]}
    add(client, user, grant)
    add(client, "nobody", grant)
    client.get(f"/organizations/{ORG}/members")
    client.get("/organizations")
    client.get(f"/organizations/{ORG}")
    client.get("/organizations/other")
    client.get("/deployments")
    client.get(f"/deployments/{dep}")
    client.get(f"/deployments/{'0' * 32}")
    client.post("/deployments/_search", json={"size": 1})
    created = client.post(f"/organizations/{ORG}/invitations", json={"emails": ["b@example.com"]})
    client.get(f"/organizations/{ORG}/invitations")
    client.get(f"/organizations/invitations/{created.json()['invitations'][0]['token']}")
    for kind in ("elasticsearch", "observability", "security"):
        items = client.get(f"/serverless/projects/{kind}").json()["items"]
        client.get(f"/serverless/projects/{kind}/{items[0]['id']}")
    remove(client, user, grant)
    httpx.get(f"{emu.url}/api/v1/organizations")  # 401

    checked = 0
    for call in emu.calls:
        errors = validator.validate_response(
            call["method"], call["path"], call["status"], call["response"]
        )
        if errors and "is not documented" in errors[0]:
            continue
        assert errors == [], (call["method"], call["path"], call["status"])
        checked += 1
    assert checked >= 20
    assert emu.spec_violations() == []


def test_concurrent_grants_are_all_applied(emu: ElasticEmulator) -> None:
    ids = [emu.add_deployment(f"d{i}") for i in range(16)]
    user = emu.add_member("alice@example.com")

    def grant(deployment_id: str) -> int:
        with httpx.Client(headers={"Authorization": f"ApiKey {API_KEY}"}) as http:
            body = {"deployment": [dep_assignment("deployment-viewer", [deployment_id])]}
            return http.post(
                f"{emu.url}/api/v1/users/{user}/role_assignments", json=body
            ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(grant, ids)) == {200}
    assert emu.holdings(user) == {("deployment", "deployment-viewer", d) for d in ids}


# -- as strict as the service ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"deployments": [dep_assignment("deployment-viewer", ["a" * 32])]},  # misspelt kind
        {
            "deployment": [
                {
                    "role_id": "deployment-viewer",
                    "organization_id": ORG,
                    "all": False,
                    "deploymnet_ids": ["a" * 32],
                }
            ]
        },
        {"deployment": [dep_assignment("deployment-viewer", ["a" * 32], colour="blue")]},
    ],
    ids=["deployments", "deploymnet_ids", "extra-key"],
)
def test_undeclared_properties_are_refused_and_recorded(emu, client, body) -> None:
    user = emu.add_member("alice@example.com")
    response = add(client, user, body)
    assert response.status_code == 400, response.text
    assert emu.holdings(user) == set()
    [violation] = emu.spec_violations()
    assert any("not a declared property" in e for e in violation["spec_errors"])


def test_a_role_assignment_body_that_names_nothing_is_refused(emu, client) -> None:
    user = emu.add_member("alice@example.com")
    for call in (add, remove):
        for body in ({}, {"deployment": []}, {"project": {}}):
            response = call(client, user, body)
            assert response.status_code == 400, (call.__name__, body)
            assert error_code(response) == "role_assignments.invalid_role_assignments"


def test_scripted_replies_come_after_authentication_and_validation(emu, client) -> None:
    user = emu.add_member("alice@example.com")
    emu.script("POST", r"/role_assignments$", 503, times=10)
    bad_key = httpx.post(
        f"{emu.url}/api/v1/users/{user}/role_assignments",
        json={"organization": [{"role_id": "billing-admin", "organization_id": ORG}]},
        headers={"Authorization": "ApiKey wrong"},
    )
    assert bad_key.status_code == 401
    invalid = add(client, user, {"organisation": []})
    assert invalid.status_code == 400
    valid = add(
        client, user, {"organization": [{"role_id": "billing-admin", "organization_id": ORG}]}
    )
    assert valid.status_code == 503  # the script answers only a request the service would take


@pytest.mark.parametrize(
    "body",
    [
        {"query": {"fuzzy": {"name": "prod"}}},
        {"query": {"term": {"nmae": "prod"}}},
        {"query": {"bool": {"must": [{"wildcard": {"name": "p*"}}]}}},
        {"sort": ["created"]},
    ],
    ids=["unknown-type", "unknown-field", "nested-unknown-type", "unknown-sort"],
)
def test_searches_refuse_what_they_would_not_evaluate(emu, client, body) -> None:
    emu.add_deployment("prod")
    response = client.post("/deployments/_search", json=body)
    assert response.status_code == 400, response.text


def test_builtin_routes_match_the_specs(validator: SpecValidator) -> None:
    """The route table a bare clone's emulator uses names exactly the specs' operations for
    every operation the emulator handles."""
    from bot.standins.elastic.routes import ROUTES

    documented = {(op.spec, op.method, op.template, op.operation_id) for op in validator.operations}
    assert set(ROUTES) <= documented
    with ElasticEmulator(SPEC_DIR, API_KEY, ORG) as emulator:
        handled = set(emulator._handlers)
    assert {route[3] for route in ROUTES} == handled


def test_without_the_specs_the_emulator_routes_by_its_own_table() -> None:
    """And checks by its own request models (tests/test_emulator_models.py has the rest)."""
    bare = SpecValidator(None)
    assert not bare.documented
    body = {"organization": [{"role_id": "billing-admin", "organization_id": ORG}]}
    verdict = bare.check("POST", "/api/v1/users/1/role_assignments", None, body)
    assert verdict.status == 200 and verdict.operation.operation_id == "add-role-assignments"
    refused = bare.check("POST", "/api/v1/users/1/role_assignments", None, {"anything": 1})
    assert (refused.status, refused.errors) == (
        400,
        ["body: 'anything' is not a declared property"],
    )
    assert bare.check("GET", "/api/v1/nowhere", None, None).status == 404
