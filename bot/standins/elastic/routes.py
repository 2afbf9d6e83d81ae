"""The Elastic Cloud operations the emulator serves, for a checkout without the published specs.

With ``../shared/elastic-cloud-api`` beside the checkout, the emulator routes and validates
every request by Elastic's own specs. Without it (a developer's bare clone) the emulator still
has to answer, so that the project's own tests run fully: it routes by this table, which
names each emulated operation's method, path template and operation ID (facts from the
specs), and checks each request's body, query and path parameters against its own request
models (:mod:`.models`, keyed by the same operation IDs). The tests
`test_builtin_routes_match_the_specs` and `tests/test_emulator_models.py` keep this table and
the models in step with the specs wherever they are present.
"""

from __future__ import annotations

#: (spec, method, path template, operationId) of every operation the emulator handles.
ROUTES: tuple[tuple[str, str, str, str], ...] = (
    ("cloud", "GET", "/api/v1/account", "get-current-account"),
    ("cloud", "GET", "/api/v1/deployments", "list-deployments"),
    ("cloud", "POST", "/api/v1/deployments/_search", "search-deployments"),
    ("cloud", "GET", "/api/v1/deployments/{deployment_id}", "get-deployment"),
    ("cloud", "GET", "/api/v1/organizations", "list-organizations"),
    (
        "cloud",
        "GET",
        "/api/v1/organizations/invitations/{invitation_token}",
        "get-organization-invitation",
    ),
    (
        "cloud",
        "POST",
        "/api/v1/organizations/invitations/{invitation_token}/_accept",
        "accept-organization-invitation",
    ),
    ("cloud", "GET", "/api/v1/organizations/{organization_id}", "get-organization"),
    (
        "cloud",
        "GET",
        "/api/v1/organizations/{organization_id}/invitations",
        "list-organization-invitations",
    ),
    (
        "cloud",
        "POST",
        "/api/v1/organizations/{organization_id}/invitations",
        "create-organization-invitations",
    ),
    (
        "cloud",
        "DELETE",
        "/api/v1/organizations/{organization_id}/invitations/{invitation_tokens}",
        "delete-organization-invitations",
    ),
    (
        "cloud",
        "GET",
        "/api/v1/organizations/{organization_id}/members",
        "list-organization-members",
    ),
    (
        "cloud",
        "DELETE",
        "/api/v1/organizations/{organization_id}/members/{user_ids}",
        "delete-organization-memberships",
    ),
    ("cloud", "GET", "/api/v1/users/auth/keys/{api_key_id}", "get-api-key"),
    ("cloud", "POST", "/api/v1/users/{user_id}/role_assignments", "add-role-assignments"),
    ("cloud", "DELETE", "/api/v1/users/{user_id}/role_assignments", "remove-role-assignments"),
    *(
        route
        for kind, cap in (
            ("elasticsearch", "Elasticsearch"),
            ("observability", "Observability"),
            ("security", "Security"),
        )
        for route in (
            ("serverless", "GET", f"/api/v1/serverless/projects/{kind}", f"list{cap}Projects"),
            (
                "serverless",
                "GET",
                f"/api/v1/serverless/projects/{kind}/{{id}}",
                f"get{cap}Project",
            ),
            (
                "serverless",
                "GET",
                f"/api/v1/serverless/projects/{kind}/{{id}}/roles",
                f"get{cap}ProjectRoles",
            ),
        )
    ),
)
