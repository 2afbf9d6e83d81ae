"""The emulator's own request models: what a bare clone checks, without Elastic's specs.

One pydantic model per request body and per operation's query (and, for the serverless
projects, path), for every operation in :mod:`.routes`. The facts (property names, types,
required properties, enums, patterns, the rule that a resource role assignment carries
``all`` or ids) are those of Elastic's published specs; nothing of the specs' text is here.
Every model refuses what it does not declare, as the emulator does with the specs (a
misspelt ``deploymnet_ids`` is refused, not ignored), and is strict about JSON types (``"yes"``
is no boolean, ``"10"`` no integer).

:func:`request_errors` checks one routed request and answers in the words
:class:`~.validator.SpecValidator` uses with the specs (``body.deployment[0]: 'role_id' is a
required property``), so a refusal reads the same with or without them. Only where the specs
are absent is this the check; with them the specs decide, and the tests hold the two in step.

The deployment search body declares the query types the emulator evaluates (``match``,
``match_all``, ``match_none``, ``term``, ``bool``, ``nested``, ``prefix``, ``exists``); the
spec's others (``query_string``, ``range``, ``simple_query_string``) the emulator would refuse
anyway (:mod:`.search`), so here they are undeclared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

_DEEP_OBJECT_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\[([^\[\]]*)\]$")


class _Strict(BaseModel):
    """A JSON object that may carry only the properties declared, each of its JSON type."""

    model_config = ConfigDict(extra="forbid", strict=True)


# -- role assignments (POST and DELETE /users/{user_id}/role_assignments) ---------------------


class PlatformRoleAssignment(_Strict):
    role_id: str


class OrganizationRoleAssignment(_Strict):
    role_id: str
    organization_id: str


class _ResourceRoleAssignment(_Strict):
    """An entry on deployments or projects: ``all: true``, or the ids it covers."""

    _ids_key: ClassVar[str]

    role_id: str
    organization_id: str
    all: bool = False
    application_roles: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _all_or_ids(self) -> _ResourceRoleAssignment:
        """A rule the specs state only in prose: ids go with ``all`` false (or absent), and
        never with ``all`` true."""
        has_ids = self._ids_key in self.model_fields_set
        if self.all and has_ids:
            raise ValueError(f"'{self._ids_key}' must be absent when 'all' is true")
        if not self.all and not has_ids:
            raise ValueError(f"'{self._ids_key}' is required when 'all' is false or absent")
        return self


class DeploymentRoleAssignment(_ResourceRoleAssignment):
    _ids_key: ClassVar[str] = "deployment_ids"

    deployment_ids: list[str] = Field(default_factory=list)


class ProjectRoleAssignment(_ResourceRoleAssignment):
    _ids_key: ClassVar[str] = "project_ids"

    project_ids: list[str] = Field(default_factory=list)


class ProjectRoleAssignments(_Strict):
    """Project entries by project type."""

    elasticsearch: list[ProjectRoleAssignment] = Field(default_factory=list)
    observability: list[ProjectRoleAssignment] = Field(default_factory=list)
    security: list[ProjectRoleAssignment] = Field(default_factory=list)


class RoleAssignments(_Strict):
    """The body of both role-assignment calls, and an invitation's ``role_assignments``."""

    platform: list[PlatformRoleAssignment] = Field(default_factory=list)
    organization: list[OrganizationRoleAssignment] = Field(default_factory=list)
    deployment: list[DeploymentRoleAssignment] = Field(default_factory=list)
    project: ProjectRoleAssignments = Field(default_factory=ProjectRoleAssignments)


# -- invitations (POST /organizations/{organization_id}/invitations) --------------------------


class OrganizationInvitationRequest(_Strict):
    emails: list[str]
    expires_in: str = ""
    role_assignments: RoleAssignments = Field(default_factory=RoleAssignments)


# -- deployment search (POST /deployments/_search) ---------------------------------------------


class MatchQuery(_Strict):
    query: str
    operator: str = ""
    minimum_should_match: int = 0
    analyzer: str = ""


class TermQuery(_Strict):
    value: str


class PrefixQuery(_Strict):
    value: str
    boost: float = 0.0


class ExistsQuery(_Strict):
    field: str


class NestedQuery(_Strict):
    path: str
    query: QueryContainer
    score_mode: Literal["avg", "sum", "min", "max", "none"] = "avg"


class BoolQuery(_Strict):
    must: list[QueryContainer] = Field(default_factory=list)
    should: list[QueryContainer] = Field(default_factory=list)
    must_not: list[QueryContainer] = Field(default_factory=list)
    filter: list[QueryContainer] = Field(default_factory=list)
    minimum_should_match: int = 0


class QueryContainer(_Strict):
    """One query; ``match_all`` and ``match_none`` are objects the specs leave open. The
    defaults of None are never validated: a ``null`` sent is refused as no object."""

    match: dict[str, MatchQuery] = Field(default_factory=dict)
    match_all: dict[str, Any] = Field(default_factory=dict)
    match_none: dict[str, Any] = Field(default_factory=dict)
    term: dict[str, TermQuery] = Field(default_factory=dict)
    bool_: BoolQuery = Field(default=None, alias="bool")
    nested: NestedQuery = Field(default=None)
    prefix: dict[str, PrefixQuery] = Field(default_factory=dict)
    exists: ExistsQuery = Field(default=None)


class SearchRequest(_Strict):
    """``cursor`` set: the service ignores the other fields (still type-checked here)."""

    from_: int = Field(0, alias="from")
    cursor: str = ""
    size: int = 0
    query: QueryContainer = Field(default=None)  # a null query is refused, as by the spec
    sort: list[Any] = Field(default_factory=list)  # items untyped in the spec: "id", {...}


# -- query and path parameters ------------------------------------------------------------------


def _query_bool(raw: Any) -> Any:
    if raw in ("true", "false"):
        return raw == "true"
    raise ValueError(f"must be 'true' or 'false', got {raw!r}")


def _query_int(raw: Any) -> Any:
    if isinstance(raw, str) and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    raise ValueError(f"must be an integer, got {raw!r}")


#: A query parameter's value arrives as text: only ``true``/``false`` is a boolean, only
#: digits an integer (as with the specs, where ``True`` and ``yes`` are refused).
QueryBool = Annotated[bool, BeforeValidator(_query_bool)]
QueryInt = Annotated[int, BeforeValidator(_query_int)]
_PROJECT_ID = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{32}$")]
_TAG_VALUE = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-z0-9][a-z0-9_-]*$")
]


class NoQuery(_Strict):
    """An operation that takes no query parameter: any is refused."""


class GetDeploymentQuery(_Strict):
    show_security: QueryBool = False
    show_metadata: QueryBool = False
    show_plans: QueryBool = False
    show_plan_logs: QueryBool = False
    show_plan_history: QueryBool = False
    show_plan_defaults: QueryBool = False
    convert_legacy_plans: QueryBool = False
    show_system_alerts: QueryInt = 0
    show_settings: QueryBool = False
    show_instance_configurations: QueryBool = False
    enrich_with_template: QueryBool = False
    force_all_plan_history: QueryBool = False
    clear_transient: QueryBool = False


class SearchDeploymentsQuery(_Strict):
    minimal_metadata: str = ""


class DeleteMembershipsQuery(_Strict):
    force: QueryBool = False


class ListProjectsQuery(_Strict):
    """``tags`` is a deep object: ``tags[owner]=team-a``, 1 to 64 of them."""

    deep_objects: ClassVar[frozenset[str]] = frozenset({"tags"})

    traffic_filter: str = ""
    linked: _PROJECT_ID = ""
    tags: Annotated[dict[str, _TAG_VALUE], Field(min_length=1, max_length=64)] = Field(
        default_factory=dict
    )


class ProjectPath(_Strict):
    id: _PROJECT_ID


# -- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestModels:
    """What one operation takes: its body (None: none), query and path parameters."""

    body: type[BaseModel] | None = None
    body_required: bool = False
    query: type[BaseModel] = NoQuery
    path: type[BaseModel] | None = None


_PROJECT_KINDS = ("Elasticsearch", "Observability", "Security")

#: By operationId, every operation of :data:`~.routes.ROUTES`.
OPERATIONS: dict[str, RequestModels] = {
    "get-current-account": RequestModels(),
    "list-deployments": RequestModels(),
    "search-deployments": RequestModels(body=SearchRequest, query=SearchDeploymentsQuery),
    "get-deployment": RequestModels(query=GetDeploymentQuery),
    "list-organizations": RequestModels(),
    "get-organization-invitation": RequestModels(),
    "accept-organization-invitation": RequestModels(),
    "get-organization": RequestModels(),
    "list-organization-invitations": RequestModels(),
    "create-organization-invitations": RequestModels(
        body=OrganizationInvitationRequest, body_required=True
    ),
    "delete-organization-invitations": RequestModels(),
    "list-organization-members": RequestModels(),
    "delete-organization-memberships": RequestModels(query=DeleteMembershipsQuery),
    "get-api-key": RequestModels(),
    "add-role-assignments": RequestModels(body=RoleAssignments, body_required=True),
    "remove-role-assignments": RequestModels(body=RoleAssignments, body_required=True),
    **{f"list{kind}Projects": RequestModels(query=ListProjectsQuery) for kind in _PROJECT_KINDS},
    **{f"get{kind}Project": RequestModels(path=ProjectPath) for kind in _PROJECT_KINDS},
    **{f"get{kind}ProjectRoles": RequestModels(path=ProjectPath) for kind in _PROJECT_KINDS},
}


for _model in (NestedQuery, BoolQuery, QueryContainer, SearchRequest):
    _model.model_rebuild()

# -- checking a request -------------------------------------------------------------------------

_JSON_TYPES = {
    "bool_type": "boolean",
    "string_type": "string",
    "int_type": "integer",
    "float_type": "number",
    "list_type": "array",
    "dict_type": "object",
    "model_type": "object",
    "model_attributes_type": "object",
}


def _where(prefix: str, loc: tuple[int | str, ...]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _messages(err: ValidationError, prefix: str) -> list[str]:
    """pydantic's errors in the validator's words: ``<where>: <what>``."""
    out: list[str] = []
    for e in err.errors():
        loc = tuple(e["loc"])
        kind = e["type"]
        if kind == "missing":
            out.append(f"{_where(prefix, loc[:-1])}: {loc[-1]!r} is a required property")
        elif kind == "extra_forbidden":
            out.append(f"{_where(prefix, loc[:-1])}: {loc[-1]!r} is not a declared property")
        elif kind in _JSON_TYPES:
            out.append(
                f"{_where(prefix, loc)}: {e['input']!r} is not of type {_JSON_TYPES[kind]!r}"
            )
        elif kind == "literal_error":
            out.append(
                f"{_where(prefix, loc)}: {e['input']!r} is not one of {e['ctx']['expected']}"
            )
        elif kind == "value_error":
            message = str(e["ctx"]["error"]) if "ctx" in e else e["msg"]
            out.append(f"{_where(prefix, loc)}: {message}")
        else:
            out.append(f"{_where(prefix, loc)}: {e['msg']}")
    return out[:20]


def _query_errors(
    operation_id: str, model: type[BaseModel], query: Mapping[str, list[str]]
) -> list[str]:
    deep_names: frozenset[str] = getattr(model, "deep_objects", frozenset())
    errors: list[str] = []
    values: dict[str, Any] = {}
    for key, given in query.items():
        m = _DEEP_OBJECT_RE.fullmatch(key)
        if m and m.group(1) in deep_names:
            if len(given) != 1:
                errors.append(f"query parameter '{key}' given {len(given)} times")
            values.setdefault(m.group(1), {})[m.group(2)] = given[-1]
        elif key in deep_names:
            errors.append(f"query parameter '{key}' must use the form {key}[name]=value")
        elif key not in model.model_fields:
            errors.append(f"unknown query parameter '{key}' for {operation_id}")
        else:
            if len(given) != 1:
                errors.append(f"query parameter '{key}' given {len(given)} times")
            values[key] = given[-1]
    try:
        model.model_validate(values)
    except ValidationError as err:
        for e in err.errors():
            name = str(e["loc"][0])
            what = str(e["ctx"]["error"]) if e["type"] == "value_error" else e["msg"]
            rest = "".join(f"[{p}]" for p in e["loc"][1:])
            errors.append(f"query parameter '{name}{rest}' {what}")
    return errors


def request_errors(
    operation_id: str,
    path_params: Mapping[str, str],
    query: Mapping[str, list[str]],
    body: Any | None,
) -> tuple[list[str], list[str]]:
    """The request's (parameter errors, body errors) by the emulator's own models.

    ``query`` maps names to lists of values (as ``parse_qs`` gives); ``body`` is the decoded
    JSON, or None for no body."""
    models = OPERATIONS[operation_id]
    param_errors: list[str] = []
    if models.path is not None:
        try:
            models.path.model_validate(dict(path_params))
        except ValidationError as err:
            for e in err.errors():
                param_errors.append(f"path parameter '{e['loc'][0]}': {e['msg']}")
    param_errors += _query_errors(operation_id, models.query, query)
    body_errors: list[str] = []
    if body is None:
        if models.body_required:
            body_errors.append("request body is required")
    elif models.body is None:
        body_errors.append(f"{operation_id} takes no request body, but one was sent")
    else:
        try:
            models.body.model_validate(body)
        except ValidationError as err:
            body_errors += _messages(err, "body")
    return param_errors, body_errors
