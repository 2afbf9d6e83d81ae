"""An Elastic Cloud API emulator for the tests and the benchmarks.

A real HTTP server on 127.0.0.1 that answers the part of the Elastic Cloud API the bot uses
(organization, members, role assignments, invitations, deployment search, serverless
projects) and refuses what the published specs refuse. Every request is first checked
against the two published specs, loaded at run time from ``spec_dir``:

* ``apidocs-user.json`` (Swagger 2.0, basePath ``/api/v1``), and
* ``serverless-project-api-dereferenced.yml`` (OpenAPI 3.0.1, paths start with ``/api/v1``).

Why: a hand-written fake that accepts anything lets client bugs (a misspelt field, a
missing ``deployment_ids``, a body dropped from a DELETE) pass the tests and fail in
production. Here the spec decides what is well-formed, and the semantics follow the
documented (and reported) behaviour of the real service, including its sharp edges:
removal subtracts ids with no reference counting, and one hidden deployment id fails a
whole role-assignment call.

Where Elastic documents nothing and no report settles it, :class:`Semantics` has a switch
for each plausible behaviour, settable at construction (``semantics=``) and at run time
(``emulator.semantics = Semantics(...)`` or ``emulator.set_semantics(field=value)``):

* ``all_absorbs``: adding a role with ``all: true`` swallows the member's per-deployment
  (per-project) entries of that role, and removing it takes them too (True, the default);
  or the entries are kept beside it, listed as their own entry, and outlive its removal.
* ``one_role_per_resource``: a second role on the same deployment or project replaces the
  member's other role there (True); or it is added beside it (False, the default).
* ``one_organization_role``: a second organization role replaces the first (True); or the
  member holds both (False, the default).
* ``delete_needs_application_roles``: a DELETE entry that does not repeat the held entry's
  ``application_roles`` leaves it in place (True, strict); or removes it (False, lenient,
  the default: a DELETE then takes the ids from every entry of that role, whatever their
  ``application_roles``).

``application_roles`` are kept per entry, as the API lists them: a member's assignments are
entries keyed by role *and* ``application_roles`` (absent, ``[]`` for console only, or the
stack roles), so a plain ``deployment-viewer`` entry and one with ``application_roles`` are
listed apart, an add merges ids only into the entry with the same list, and (strict) a
removal takes ids only from it. Project custom roles (``GET …/{type}/{id}/roles``) are seeded
per project with ``set_project_roles`` (or ``add_project(roles=…)``); the emulator does not
check that an entry's application roles exist, since Elastic documents no such check.
* ``invitation_minutes``: invitation ``expires_in`` accepts minutes and seconds (True, the
  default); or only hours, days and weeks (False: ``30m`` is refused with 400).
* ``hidden_refuses_named``: a call naming a stopped (hidden) deployment fails with 403
  (True, the default); or it is carried out. ``hidden_refuses_all``: while any deployment
  is hidden, a call naming ``all: true`` for deployments fails with 403 (True); or not
  (False, the default).

The field names are those of the bot's own ``bot.access.planning.Semantics``, so a test can
compare what ``python -m bot probe`` measured with the mode it ran against.

:class:`SpecValidator` is usable on its own: ``validate(method, path, query, body)``
returns the list of spec violations of a request, empty when it conforms.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonschema
import yaml

CLOUD_SPEC_FILE = "apidocs-user.json"
SERVERLESS_SPEC_FILE = "serverless-project-api-dereferenced.yml"
CLOUD_BASE_PATH = "/api/v1"

PROJECT_TYPES = ("elasticsearch", "observability", "security")

#: Role ids the service accepts, per scope. Project kinds carry a type prefix.
VALID_ROLE_IDS: dict[str, frozenset[str]] = {
    "organization": frozenset({"organization-admin", "billing-admin"}),
    "deployment": frozenset({"deployment-admin", "deployment-editor", "deployment-viewer"}),
    "elasticsearch": frozenset(
        {"elasticsearch-admin", "elasticsearch-developer", "elasticsearch-viewer"}
    ),
    "observability": frozenset(
        {"observability-admin", "observability-editor", "observability-viewer"}
    ),
    "security": frozenset(
        f"security-{r}"
        for r in (
            "admin",
            "editor",
            "viewer",
            "t1-analyst",
            "t2-analyst",
            "t3-analyst",
            "threat-intel-analyst",
            "rule-author",
            "soc-manager",
            "endpoint-operations-analyst",
            "platform-engineer",
            "detections-admin",
            "endpoint-policy-manager",
        )
    ),
}

DEFAULT_SEARCH_SIZE = 100
MAX_SEARCH_SIZE = 1000
DEFAULT_INVITATION_TTL = timedelta(days=3)

_DEPLOYMENT_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_PROJECT_ID_RE = re.compile(r"^[a-z0-9]{32}$")
_PROJECT_TAG_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_PROJECT_TAG_VALUE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DURATION_PART_RE = re.compile(r"(\d+)([smhdw])")
_DEEP_OBJECT_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\[([^\[\]]*)\]$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


# --------------------------------------------------------------------------------------
# Spec loading: Swagger 2.0 / OpenAPI 3.0 schemas -> JSON Schema (draft 4)
# --------------------------------------------------------------------------------------

#: Custom keyword carrying the documented rule of DeploymentRoleAssignment and
#: ProjectRoleAssignment: "<ids> must be absent if `all` is true, and present if `all` is
#: false". The specs state it only in prose, so it is injected into those definitions.
_ALL_OR_IDS = "x-emulator-all-or-ids"


def _all_or_ids(validator: Any, ids_key: str, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    has_ids = ids_key in instance
    if instance.get("all") is True and has_ids:
        yield jsonschema.ValidationError(f"'{ids_key}' must be absent when 'all' is true")
    elif instance.get("all") is not True and not has_ids:
        yield jsonschema.ValidationError(f"'{ids_key}' is required when 'all' is false or absent")


_Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, {_ALL_OR_IDS: _all_or_ids})
_draft4_properties = jsonschema.Draft4Validator.VALIDATORS["properties"]


def _declared_properties(
    validator: Any, properties: Any, instance: Any, schema: Any
) -> Iterator[Any]:
    """``properties``, and no others: a key the schema does not declare (a misspelling such
    as ``deploymnet_ids``) is an error, unless the schema allows more (additional or
    pattern properties). The specs have no ``allOf``, so each object has one schema."""
    yield from _draft4_properties(validator, properties, instance, schema)
    if not validator.is_type(instance, "object"):
        return
    if "additionalProperties" in schema or "patternProperties" in schema:
        return
    for name in instance:
        if name not in properties:
            yield jsonschema.ValidationError(f"{name!r} is not a declared property")


#: Requests are held to declared properties only; responses (the emulator's own and the
#: service's) are checked with the plain rules, as the specs leave them open.
_RequestValidator = jsonschema.validators.extend(_Validator, {"properties": _declared_properties})

_SCHEMA_CHILD_MAPS = ("properties", "patternProperties")
_SCHEMA_CHILD_LISTS = ("allOf", "anyOf", "oneOf")


def _convert_schema(node: Any, *, openapi: bool, named: bool = False) -> Any:
    """Convert one spec schema node (and its children) into draft-4 JSON Schema.

    Two spec dialect quirks are handled:

    * Swagger 2.0 (generated from the service's own types): an *inline* bare
      ``{"type": "object"}`` with no properties is an untyped value, not a JSON object --
      ``SearchRequest.sort`` items are declared that way yet the service (and Terraform)
      send ``["id"]``. Named definitions keep their object type.
    * OpenAPI 3.0 ``nullable: true`` becomes a ``null`` member of ``type``.
    """
    if isinstance(node, list):
        return [_convert_schema(item, openapi=openapi) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:  # draft 4 ignores a $ref's siblings; so does Swagger
        return {"$ref": node["$ref"]}
    out = dict(node)
    for key in _SCHEMA_CHILD_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {k: _convert_schema(v, openapi=openapi) for k, v in out[key].items()}
    for key in (*_SCHEMA_CHILD_LISTS, "items", "additionalProperties", "not"):
        if isinstance(out.get(key), dict | list):
            out[key] = _convert_schema(out[key], openapi=openapi)
    untyped_object = out.get("type") == "object" and not any(
        k in out for k in ("properties", "additionalProperties", "patternProperties", "allOf")
    )
    if not openapi and not named and untyped_object:
        del out["type"]
    if openapi and out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@dataclass(frozen=True, eq=False)
class _Param:
    name: str
    location: str  # "query" | "path"
    required: bool
    schema: dict[str, Any]
    deep_object: bool = False


@dataclass(frozen=True, eq=False)
class Operation:
    """One (method, path template) of a spec, with what a request to it must satisfy."""

    spec: str  # "cloud" | "serverless"
    method: str
    template: str  # full path, e.g. /api/v1/users/{user_id}/role_assignments
    operation_id: str
    params: tuple[_Param, ...]
    body_schema: dict[str, Any] | None
    body_required: bool
    responses: Mapping[str, dict[str, Any] | None]  # status -> schema (None: no body)
    segments: tuple[str, ...]

    @property
    def serverless(self) -> bool:
        return self.spec == "serverless"


class _Spec:
    """Both specs, indexed for routing, with their JSON-Schema roots for $ref resolution."""

    def __init__(self, spec_dir: Path) -> None:
        cloud = json.loads((spec_dir / CLOUD_SPEC_FILE).read_text(encoding="utf-8"))
        text = (spec_dir / SERVERLESS_SPEC_FILE).read_text(encoding="utf-8")
        # The C SafeLoader is 15x faster than yaml.safe_load's pure-Python one.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        serverless = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader
        definitions = {
            name: _convert_schema(schema, openapi=False, named=True)
            for name, schema in cloud.get("definitions", {}).items()
        }
        definitions["DeploymentRoleAssignment"][_ALL_OR_IDS] = "deployment_ids"
        definitions["ProjectRoleAssignment"][_ALL_OR_IDS] = "project_ids"
        components = serverless.get("components", {})
        schemas = {
            name: _convert_schema(schema, openapi=True, named=True)
            for name, schema in components.get("schemas", {}).items()
        }
        self.roots: dict[str, dict[str, Any]] = {
            "cloud": {"definitions": definitions},
            "serverless": {"components": {"schemas": schemas}},
        }
        self._serverless_raw = serverless
        self.operations: list[Operation] = []
        base = cloud.get("basePath", CLOUD_BASE_PATH).rstrip("/")
        for path, item in cloud.get("paths", {}).items():
            for method, op in item.items():
                if method != "parameters":
                    self.operations.append(self._swagger_operation(base + path, method, op))
        for path, item in serverless.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method not in ("parameters", "summary", "description", "servers"):
                    self.operations.append(self._openapi_operation(path, method, op, shared))
        self.by_length: dict[int, list[Operation]] = {}
        for op in self.operations:
            self.by_length.setdefault(len(op.segments), []).append(op)
        self._validators: dict[tuple[int, bool], Any] = {}
        self._lock = threading.Lock()

    # -- building operations ------------------------------------------------------------

    @staticmethod
    def _swagger_operation(template: str, method: str, op: dict[str, Any]) -> Operation:
        params: list[_Param] = []
        body_schema: dict[str, Any] | None = None
        body_required = False
        for p in op.get("parameters", []):
            if p["in"] == "body":
                body_schema = _convert_schema(p.get("schema", {}), openapi=False)
                body_required = bool(p.get("required"))
            elif p["in"] in ("query", "path"):
                keys = ("type", "enum", "items", "pattern", "minimum", "maximum")
                schema = {k: p[k] for k in keys if k in p}
                params.append(_Param(p["name"], p["in"], bool(p.get("required")), schema))
        responses = {
            str(status): (_convert_schema(r["schema"], openapi=False) if "schema" in r else None)
            for status, r in op.get("responses", {}).items()
        }
        return Operation(
            spec="cloud",
            method=method.upper(),
            template=template,
            operation_id=op.get("operationId", f"{method} {template}"),
            params=tuple(params),
            body_schema=body_schema,
            body_required=body_required,
            responses=responses,
            segments=tuple(template.split("/")[1:]),
        )

    def _deref(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow a local ``#/components/...`` reference of the OpenAPI document."""
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self._serverless_raw
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def _openapi_operation(
        self, template: str, method: str, op: dict[str, Any], shared: list[dict[str, Any]]
    ) -> Operation:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for p in [*shared, *op.get("parameters", [])]:
            p = self._deref(p)
            merged[(p["name"], p["in"])] = p
        params = [
            _Param(
                p["name"],
                p["in"],
                bool(p.get("required")),
                _convert_schema(self._deref(p.get("schema", {})), openapi=True),
                deep_object=p.get("style") == "deepObject",
            )
            for p in merged.values()
            if p["in"] in ("query", "path")
        ]
        body_schema: dict[str, Any] | None = None
        body_required = False
        if "requestBody" in op:
            rb = self._deref(op["requestBody"])
            media = rb.get("content", {}).get("application/json", {})
            body_schema = _convert_schema(media.get("schema", {}), openapi=True)
            body_required = bool(rb.get("required"))
        responses: dict[str, dict[str, Any] | None] = {}
        for status, r in op.get("responses", {}).items():
            schema = self._deref(r).get("content", {}).get("application/json", {}).get("schema")
            responses[str(status)] = (
                None if schema is None else _convert_schema(schema, openapi=True)
            )
        return Operation(
            spec="serverless",
            method=method.upper(),
            template=template,
            operation_id=op.get("operationId", f"{method} {template}"),
            params=tuple(params),
            body_schema=body_schema,
            body_required=body_required,
            responses=responses,
            segments=tuple(template.split("/")[1:]),
        )

    # -- validation -----------------------------------------------------------------------

    def validator(self, op: Operation, schema: dict[str, Any], *, request: bool = False) -> Any:
        """A (cached) validator for ``schema``, resolving refs against ``op``'s spec; for a
        ``request`` body, undeclared properties are errors too."""
        key = (id(schema), request)
        with self._lock:
            found = self._validators.get(key)
            if found is None:
                root = {"allOf": [schema], **self.roots[op.spec]}
                cls = _RequestValidator if request else _Validator
                found = self._validators[key] = (cls(root), schema)
        return found[0]


@dataclass
class _BuiltinSpec:
    """Routing for the emulated operations only, from :mod:`bot.standins.elastic_routes`."""

    operations: list[Operation]
    by_length: dict[int, list[Operation]]


@functools.cache
def _builtin_spec() -> _BuiltinSpec:
    from bot.standins.elastic_routes import ROUTES

    operations = [
        Operation(
            spec=spec,
            method=method,
            template=template,
            operation_id=operation_id,
            params=(),
            body_schema=None,
            body_required=False,
            responses={},
            segments=tuple(template.split("/")[1:]),
        )
        for spec, method, template, operation_id in ROUTES
    ]
    by_length: dict[int, list[Operation]] = {}
    for op in operations:
        by_length.setdefault(len(op.segments), []).append(op)
    return _BuiltinSpec(operations, by_length)


@functools.lru_cache(maxsize=4)
def _load_spec(spec_dir: str) -> _Spec:
    """Parse both specs once per process and directory."""
    return _Spec(Path(spec_dir))


def _schema_errors(validator: Any, instance: Any, where: str) -> list[str]:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    out: list[str] = []
    for err in errors[:20]:
        location = where + err.json_path.removeprefix("$")
        out.append(f"{location}: {err.message}")
    return out


@dataclass
class Verdict:
    """The outcome of checking one request against the specs.

    ``status`` is 200 when the request conforms, else the status the emulator answers
    (404 unknown path, 405 wrong method, 400 bad parameters or body).
    """

    status: int
    code: str | None = None
    errors: list[str] = field(default_factory=list)
    operation: Operation | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    allowed_methods: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == 200


def _split_target(path: str, query: Mapping[str, Any] | None) -> tuple[str, dict[str, list[str]]]:
    """Accept a bare path, a path with a query string, or a full URL."""
    merged: dict[str, list[str]] = {}
    parts = urlsplit(path)
    if parts.query:
        for key, values in parse_qs(parts.query, keep_blank_values=True).items():
            merged.setdefault(key, []).extend(values)
    for key, value in (query or {}).items():
        values = [value] if isinstance(value, str | bool | int) else list(value)
        merged.setdefault(key, []).extend(
            str(v).lower() if isinstance(v, bool) else str(v) for v in values
        )
    return parts.path or "/", merged


def _coerce(raw: str, schema: Mapping[str, Any]) -> tuple[Any, str | None]:
    """Turn a query/path string into the typed value its schema describes."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "boolean":
        if raw in ("true", "false"):
            return raw == "true", None
        return raw, f"must be 'true' or 'false', got {raw!r}"
    if kind == "integer":
        if re.fullmatch(r"-?\d+", raw):
            return int(raw), None
        return raw, f"must be an integer, got {raw!r}"
    if kind == "number":
        try:
            return float(raw), None
        except ValueError:
            return raw, f"must be a number, got {raw!r}"
    return raw, None


class SpecValidator:
    """Checks requests against the two published Elastic Cloud specs.

    The project's own tests use it to prove that every request the client builds
    conforms; the emulator uses it to refuse what the real service refuses.
    """

    def __init__(self, spec_dir: Path | str | None) -> None:
        """``spec_dir`` None: no published specs here (a bare clone). Requests are routed by
        the emulator's own table (:mod:`bot.standins.elastic_routes`) and nothing is checked
        against a schema: :attr:`documented` says which of the two this validator does."""
        self.documented = spec_dir is not None
        self.spec_dir = Path(spec_dir).resolve() if spec_dir is not None else None
        self._spec = _load_spec(str(self.spec_dir)) if spec_dir is not None else _builtin_spec()

    @property
    def operations(self) -> list[Operation]:
        return list(self._spec.operations)

    def route(self, method: str, path: str) -> Verdict:
        """Find the operation for ``method path`` (templated segments match any value)."""
        path, _ = _split_target(path, None)
        segments = [unquote(s) for s in path.split("/")[1:]]
        matches: list[tuple[tuple[int, ...], Operation, dict[str, str]]] = []
        for op in self._spec.by_length.get(len(segments), []):
            params: dict[str, str] = {}
            for tmpl, seg in zip(op.segments, segments, strict=True):
                if tmpl.startswith("{") and tmpl.endswith("}"):
                    if not seg:
                        break
                    params[tmpl[1:-1]] = seg
                elif tmpl != seg:
                    break
            else:
                specificity = tuple(int(s.startswith("{")) for s in op.segments)
                matches.append((specificity, op, params))
        if not matches:
            return Verdict(
                404,
                "root.resource_not_found",
                [f"no operation in the specs matches {method.upper()} {path}"],
            )
        same_method = [m for m in matches if m[1].method == method.upper()]
        if not same_method:
            allowed = sorted({m[1].method for m in matches})
            return Verdict(
                405,
                "root.method_not_allowed",
                [f"{method.upper()} is not allowed on {path}; allowed: {', '.join(allowed)}"],
                allowed_methods=allowed,
            )
        _, op, params = min(same_method, key=lambda m: m[0])
        return Verdict(200, operation=op, path_params=params)

    def operation_id(self, method: str, path: str) -> str | None:
        """The spec's operationId for ``method path``, or None when there is none."""
        verdict = self.route(method, path)
        return verdict.operation.operation_id if verdict.operation else None

    def check(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: Any | None = None,
    ) -> Verdict:
        """Route, then check path parameters, query parameters and the JSON body."""
        path, merged_query = _split_target(path, query)
        verdict = self.route(method, path)
        if verdict.operation is None:
            return verdict
        op = verdict.operation
        if not self.documented:
            return verdict  # routed; no published schema to check it against
        param_errors = self._check_path(op, verdict.path_params)
        param_errors += self._check_query(op, merged_query)
        body_errors = self._check_body(op, body)
        if body_errors:
            verdict.status, verdict.code = 400, "root.invalid_json_request"
        elif param_errors:
            verdict.status, verdict.code = 400, "root.invalid_data"
        verdict.errors = param_errors + body_errors
        return verdict

    def validate(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: Any | None = None,
    ) -> list[str]:
        """The request's spec violations; an empty list means it conforms.

        ``query`` maps names to lists of values (as ``parse_qs`` gives); ``body`` is the
        decoded JSON, or None for no body. ``path`` may carry a query string.
        """
        return self.check(method, path, query, body).errors

    def validate_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """Check a response body against the spec's schema for that status."""
        verdict = self.route(method, path)
        if verdict.operation is None:
            return verdict.errors
        if not self.documented:
            return []
        op = verdict.operation
        if str(status) not in op.responses:
            return [f"{op.operation_id}: status {status} is not documented"]
        schema = op.responses[str(status)]
        if schema is None:
            return []
        return _schema_errors(self._spec.validator(op, schema), body, "response")

    # -- parts ----------------------------------------------------------------------------

    def _check_path(self, op: Operation, values: Mapping[str, str]) -> list[str]:
        errors: list[str] = []
        for p in op.params:
            if p.location != "path" or p.name not in values or p.schema.get("type") == "array":
                continue
            value, problem = _coerce(values[p.name], p.schema)
            if problem:
                errors.append(f"path parameter '{p.name}' {problem}")
                continue
            for err in _schema_errors(self._spec.validator(op, p.schema), value, ""):
                errors.append(f"path parameter '{p.name}'{err}")
        return errors

    def _check_query(self, op: Operation, query: Mapping[str, list[str]]) -> list[str]:
        params = {p.name: p for p in op.params if p.location == "query"}
        errors: list[str] = []
        seen: set[str] = set()
        deep: dict[str, dict[str, str]] = {}
        for key, values in query.items():
            m = _DEEP_OBJECT_RE.fullmatch(key)
            if m and m.group(1) in params and params[m.group(1)].deep_object:
                name = m.group(1)
                seen.add(name)
                if len(values) != 1:
                    errors.append(f"query parameter '{key}' given {len(values)} times")
                deep.setdefault(name, {})[m.group(2)] = values[-1]
                continue
            p = params.get(key)
            if p is None:
                errors.append(f"unknown query parameter '{key}' for {op.operation_id}")
                continue
            if p.deep_object:
                errors.append(f"query parameter '{key}' must use the form {key}[name]=value")
                continue
            seen.add(key)
            if p.schema.get("type") == "array":
                item_schema = p.schema.get("items", {})
                items = [_coerce(v, item_schema) for v in values]
                value: Any = [v for v, _ in items]
                problems = [problem for _, problem in items if problem]
            else:
                if len(values) != 1:
                    errors.append(f"query parameter '{key}' given {len(values)} times")
                value, problem = _coerce(values[-1], p.schema)
                problems = [problem] if problem else []
            if problems:
                errors.extend(f"query parameter '{key}' {problem}" for problem in problems)
                continue
            for err in _schema_errors(self._spec.validator(op, p.schema), value, ""):
                errors.append(f"query parameter '{key}'{err}")
        for name, obj in deep.items():
            for err in _schema_errors(self._spec.validator(op, params[name].schema), obj, name):
                errors.append(f"query parameter {err}")
        for p in params.values():
            if p.required and p.name not in seen:
                errors.append(f"required query parameter '{p.name}' is missing")
        return errors

    def _check_body(self, op: Operation, body: Any | None) -> list[str]:
        if body is None:
            return ["request body is required"] if op.body_required else []
        if op.body_schema is None:
            return [f"{op.operation_id} takes no request body, but one was sent"]
        return _schema_errors(self._spec.validator(op, op.body_schema, request=True), body, "body")


# --------------------------------------------------------------------------------------
# Emulator state
# --------------------------------------------------------------------------------------


class _ApiError(Exception):
    """Raised by a handler to answer with a documented error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Semantics:
    """The service's undocumented behaviours (see the module docstring); defaults as above."""

    all_absorbs: bool = True
    one_role_per_resource: bool = False
    one_organization_role: bool = False
    delete_needs_application_roles: bool = False
    invitation_minutes: bool = True
    hidden_refuses_named: bool = True
    hidden_refuses_all: bool = False


#: The application roles an entry carries: None when absent, else the list (sorted).
Apps = tuple[str, ...] | None
#: One entry of a member's assignments: (kind, role_id, application roles).
_Key = tuple[str, str, Apps]


def _key_order(key: _Key) -> tuple[str, str, tuple[Any, ...]]:
    kind, role, apps = key
    return (kind, role, () if apps is None else (1, *apps))


@dataclass
class _Scope:
    """What one user holds for one (kind, role_id, application roles): all resources and/or
    a set of ids (both only where ``all`` keeps the specific entries)."""

    all: bool = False
    ids: set[str] = field(default_factory=set)


@dataclass
class _Member:
    user_id: str
    email: str
    name: str
    member_since: str
    org_roles: set[str] = field(default_factory=set)
    scoped: dict[_Key, _Scope] = field(default_factory=dict)


@dataclass
class _Deployment:
    id: str
    name: str
    alias: str
    tags: list[tuple[str, str]]
    hidden: bool
    seq: int
    region: str = "gcp-us-central1"


@dataclass
class _Project:
    id: str
    type: str
    name: str
    alias: str
    tags: dict[str, str]
    created_at: str
    seq: int
    region_id: str = "aws-us-east-1"


@dataclass
class _Invitation:
    token: str
    email: str
    created_at: datetime
    expires_at: datetime
    role_assignments: dict[str, Any] | None


@dataclass(frozen=True)
class _Assignment:
    """One entry of a RoleAssignments body, flattened."""

    kind: str  # platform | organization | deployment | elasticsearch | observability | security
    role_id: str
    organization_id: str | None
    all: bool
    ids: tuple[str, ...]
    application_roles: tuple[str, ...] | None


def _iter_assignments(ra: Mapping[str, Any] | None) -> Iterator[_Assignment]:
    ra = ra or {}
    for a in ra.get("platform") or []:
        yield _Assignment("platform", a["role_id"], None, False, (), None)
    for a in ra.get("organization") or []:
        yield _Assignment("organization", a["role_id"], a["organization_id"], False, (), None)
    entries = [("deployment", a, "deployment_ids") for a in ra.get("deployment") or []]
    for kind in PROJECT_TYPES:
        entries += [(kind, a, "project_ids") for a in (ra.get("project") or {}).get(kind) or []]
    for kind, a, ids_key in entries:
        app_roles = a.get("application_roles")
        yield _Assignment(
            kind,
            a["role_id"],
            a["organization_id"],
            a.get("all") is True,
            tuple(a.get(ids_key) or ()),
            None if app_roles is None else tuple(sorted(set(app_roles))),
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _slug(name: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:limit].strip("-")
    if not slug or not slug[0].isalpha():
        slug = f"p-{slug}".rstrip("-")
    return slug


def parse_duration(text: str) -> timedelta:
    """Parse an invitation ``expires_in`` such as ``3d``, ``2h``, ``30m`` or ``1d12h``."""
    text = text.strip()
    if not text or _DURATION_PART_RE.sub("", text):
        raise ValueError(f"invalid duration {text!r}")
    total = timedelta()
    for amount, unit in _DURATION_PART_RE.findall(text):
        total += timedelta(**{_DURATION_UNITS[unit]: int(amount)})
    return total


# -- deployment search query evaluation ---------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _field_values(name: str, dep: _Deployment, tag: tuple[str, str] | None) -> list[str]:
    if name in ("metadata.tags.key", "metadata.tags.value"):
        index = 0 if name.endswith(".key") else 1
        return [tag[index]] if tag is not None else [t[index] for t in dep.tags]
    simple = {"id": dep.id, "name": dep.name, "alias": dep.alias, "healthy": "true"}
    return [simple[name]] if name in simple else []


_QUERY_TYPES = {"match_all", "match_none", "bool", "nested", "term", "match", "prefix", "exists"}
_QUERY_FIELDS = {"id", "name", "alias", "healthy", "metadata.tags.key", "metadata.tags.value"}


def _check_query(query: Any, where: str = "query") -> None:
    """Refuse (400) a query the emulator would not evaluate as the service does: an unknown
    query type or field would otherwise match everything or nothing, silently."""
    if query is None:
        return
    if not isinstance(query, dict) or len(query) != 1:
        raise _ApiError(400, "root.invalid_data", f"{where}: one query type per object")
    [(kind, arg)] = query.items()
    if kind not in _QUERY_TYPES or not isinstance(arg, dict):
        raise _ApiError(400, "root.invalid_data", f"{where}: unknown query type {kind!r}")
    if kind == "bool":
        unknown = set(arg) - {"must", "filter", "must_not", "should", "minimum_should_match"}
        if unknown:
            raise _ApiError(400, "root.invalid_data", f"{where}.bool: unknown {sorted(unknown)}")
        for clause in ("must", "filter", "must_not", "should"):
            for i, q in enumerate(_as_list(arg.get(clause))):
                _check_query(q, f"{where}.bool.{clause}[{i}]")
    elif kind == "nested":
        if arg.get("path") != "metadata.tags":
            raise _ApiError(400, "root.invalid_data", f"{where}.nested: unknown path")
        _check_query(arg.get("query"), f"{where}.nested.query")
    elif kind in ("term", "match", "prefix", "exists"):
        names = [arg.get("field")] if kind == "exists" else list(arg)
        unknown = [n for n in names if n not in _QUERY_FIELDS]
        if unknown or not names:
            raise _ApiError(400, "root.invalid_data", f"{where}.{kind}: unknown field {unknown}")


def _query_matches(query: Any, dep: _Deployment, tag: tuple[str, str] | None = None) -> bool:
    """Evaluate the subset of the Elasticsearch query DSL a client is likely to send
    (:func:`_check_query` refuses the rest first)."""
    if not isinstance(query, dict):
        return True
    for kind, arg in query.items():
        if not isinstance(arg, dict):
            continue
        if kind == "match_none":
            return False
        if kind == "bool":
            required = _as_list(arg.get("must")) + _as_list(arg.get("filter"))
            if not all(_query_matches(q, dep, tag) for q in required):
                return False
            if any(_query_matches(q, dep, tag) for q in _as_list(arg.get("must_not"))):
                return False
            should = _as_list(arg.get("should"))
            if should:
                minimum = arg.get("minimum_should_match", 0 if required else 1)
                if sum(_query_matches(q, dep, tag) for q in should) < minimum:
                    return False
        elif kind == "nested" and arg.get("path") == "metadata.tags":
            if not any(_query_matches(arg.get("query"), dep, t) for t in dep.tags):
                return False
        elif kind in ("term", "match", "prefix"):
            for name, spec in arg.items():
                wanted = spec.get("value", spec.get("query")) if isinstance(spec, dict) else spec
                wanted = str(wanted)
                values = _field_values(name, dep, tag)
                if kind == "term":
                    ok = wanted in values
                elif kind == "match":
                    ok = any(
                        wanted.lower() == v.lower() or wanted.lower() in v.lower().split()
                        for v in values
                    )
                else:
                    ok = any(v.startswith(wanted) for v in values)
                if not ok:
                    return False
        elif kind == "exists" and not _field_values(str(arg.get("field")), dep, tag):
            return False
    return True


_SORTABLE = {"id", "name", "alias"}


def _sort_fields(sort: Any) -> list[tuple[str, bool]]:
    """Parse ``sort`` into (field, descending) pairs, always ending on a unique ``id``."""
    fields: list[tuple[str, bool]] = []
    for item in _as_list(sort):
        if isinstance(item, str):
            fields.append((item, False))
        elif isinstance(item, dict):
            for name, order in item.items():
                if isinstance(order, dict):
                    order = order.get("order", "asc")
                fields.append((name, str(order).lower() == "desc"))
    unknown = [n for n, _ in fields if n not in _SORTABLE]
    if unknown:
        raise _ApiError(400, "root.invalid_data", f"sort: unknown field(s) {unknown}")
    if not fields:
        fields = [("_seq", True)]  # default: most recently created first
    if "id" not in {n for n, _ in fields}:
        fields.append(("id", False))
    return fields


def _sort_key(dep: _Deployment, fields: list[tuple[str, bool]]) -> tuple[Any, ...]:
    return tuple(dep.seq if name == "_seq" else getattr(dep, name) for name, _ in fields)


def _is_after(key: tuple[Any, ...], last: tuple[Any, ...], fields: list[tuple[str, bool]]) -> bool:
    for a, b, (_, descending) in zip(key, last, fields, strict=True):
        if a != b:
            return a < b if descending else a > b
    return False


@dataclass
class _Cursor:
    query: Any
    fields: list[tuple[str, bool]]
    size: int
    last: tuple[Any, ...]


# --------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    operation: Operation
    path_params: dict[str, str]


@dataclass
class _Script:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int
    raw_body: bytes | None
    delay: float


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # else server_close() waits on idle keep-alive connections
    emulator: ElasticEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out and hang up are expected; stay quiet about them."""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # drop idle keep-alive connections eventually

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._pending_head: list[bytes] = []
        self._hold_head = False

    def flush_headers(self) -> None:
        """Inside ``_send``, hold the head back so head and body go out in one write."""
        if not self._hold_head:
            super().flush_headers()
            return
        self._pending_head = list(getattr(self, "_headers_buffer", []))
        self._headers_buffer = []

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        """Silence the per-request stderr log."""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        try:
            raw = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            reply = _error_reply(400, "root.invalid_data", "unreadable request body")
            self._send(reply)
            return
        reply = self.server.emulator._handle_http(
            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, raw
        )
        self._send(reply)

    def _send(self, reply: _Reply) -> None:
        if reply.raw is not None:
            payload = reply.raw
        else:
            payload = json.dumps(reply.body if reply.body is not None else {}).encode()
        self._hold_head = True
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            # One write for head and body: two small writes meet the client's delayed ACK
            # (Nagle) and cost ~40 ms per request.
            self.wfile.write(
                b"".join(self._pending_head) + (b"" if self.command == "HEAD" else payload)
            )
        except OSError:  # the client went away (e.g. timed out on a delayed reply)
            self.close_connection = True
        finally:
            self._hold_head = False

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


def _error_reply(status: int, code: str, message: str, fields: list[str] | None = None) -> _Reply:
    element: dict[str, Any] = {"code": code, "message": message}
    if fields:
        element["fields"] = fields
    return _Reply(status, {"errors": [element]}, {"x-cloud-error-codes": code})


# --------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------


class ElasticEmulator:
    """A stateful Elastic Cloud API on 127.0.0.1 that refuses what the specs refuse.

    Use as a context manager (or ``start()`` / ``stop()``); point the client at ``url``
    (the client appends ``/api/v1/...``). Seed state with ``add_member``,
    ``add_deployment`` and ``add_project``; inspect it with ``member`` and
    ``member_by_email``; inspect traffic with ``calls``; inject faults with ``script``.
    """

    def __init__(
        self,
        spec_dir: Path | str | None,
        api_key: str,
        organization_id: str,
        organization_name: str = "Acme",
        semantics: Semantics | None = None,
    ) -> None:
        self.validator = SpecValidator(spec_dir)
        #: How the undocumented parts behave (module docstring); replace at any time.
        self.semantics = semantics or Semantics()
        self.api_key = api_key
        self.organization_id = organization_id
        self.organization_name = organization_name
        #: Every request received, in order: method, path, query, body (decoded JSON, raw
        #: text if not JSON, or None), headers (lower-cased names), status, time
        #: (time.monotonic() on arrival), spec_errors (the SpecValidator's findings) and
        #: response (the JSON sent back, or the raw bytes of a scripted raw_body).
        self.calls: list[dict[str, Any]] = []
        self.ratelimit_limit = 1000
        self.ratelimit_interval = "1m0s"
        self._lock = threading.RLock()
        self._members: dict[str, _Member] = {}
        self._deployments: dict[str, _Deployment] = {}
        self._projects: dict[str, _Project] = {}
        #: Each project's custom roles (name, description), for ``GET …/{id}/roles``.
        self._project_roles: dict[str, list[tuple[str, str]]] = {}
        self._invitations: dict[str, _Invitation] = {}
        self._cursors: dict[str, _Cursor] = {}
        self._scripts: list[_Script] = []
        #: (method, path pattern, action, remaining): run after a matching call succeeds.
        self._after: list[list[Any]] = []
        #: SSO role mappings (``GET …/role_mappings``, in the live API but not the copied
        #: spec); None: the API does not offer the endpoint (404).
        self.role_mappings: list[dict[str, Any]] | None = []
        #: (method, path pattern, status): handled, then answered with an error instead.
        self._lost_replies: list[tuple[str, re.Pattern[str], int]] = []
        #: Entries listed verbatim after a member's own (``add_raw_assignment``).
        self._raw_assignments: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self._seq = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._handlers: dict[str, Callable[[_Request], _Reply]] = {
            "get-current-account": self._get_account,
            "list-organizations": self._list_organizations,
            "get-organization": self._get_organization,
            "list-organization-members": self._list_members,
            "delete-organization-memberships": self._delete_members,
            "list-organization-invitations": self._list_invitations,
            "create-organization-invitations": self._create_invitations,
            "delete-organization-invitations": self._delete_invitations,
            "get-organization-invitation": self._get_invitation,
            "accept-organization-invitation": self._accept_invitation_http,
            "add-role-assignments": self._add_role_assignments,
            "remove-role-assignments": self._remove_role_assignments,
            "list-deployments": self._list_deployments,
            "search-deployments": self._search_deployments,
            "get-deployment": self._get_deployment,
            "get-api-key": self._get_api_key,
        }
        #: API keys' metadata by ID (``add_api_key``), for ``GET /users/auth/keys/{id}``.
        self._api_keys: dict[str, dict[str, Any]] = {}
        for kind in PROJECT_TYPES:
            cap = kind.capitalize()
            self._handlers[f"list{cap}Projects"] = functools.partial(self._list_projects, kind)
            self._handlers[f"get{cap}Project"] = functools.partial(self._get_project, kind)
            self._handlers[f"get{cap}ProjectRoles"] = functools.partial(
                self._get_project_roles, kind
            )

    @property
    def one_role_per_resource(self) -> bool:
        """Both ``one_role_per_resource`` and ``one_organization_role`` (#13 item 8's switch)."""
        return self.semantics.one_role_per_resource and self.semantics.one_organization_role

    @one_role_per_resource.setter
    def one_role_per_resource(self, on: bool) -> None:
        self.set_semantics(one_role_per_resource=on, one_organization_role=on)

    def set_semantics(self, **changes: bool) -> None:
        """Change some of the service's behaviours from now on."""
        with self._lock:
            self.semantics = replace(self.semantics, **changes)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> ElasticEmulator:
        """Bind to an ephemeral port and serve from a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.emulator = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="elastic-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; delayed scripted replies are cut short."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ElasticEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``; the client appends ``/api/v1/...``."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def validate_request(
        self, method: str, path: str, query: Mapping[str, Any] | None, body: Any | None
    ) -> list[str]:
        """Spec violations of a request (empty list = valid); see SpecValidator.validate."""
        return self.validator.validate(method, path, query, body)

    # -- seeding and inspection -------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def add_member(
        self,
        email: str,
        user_id: str | None = None,
        name: str | None = None,
        role_assignments: Mapping[str, Any] | None = None,
    ) -> str:
        """Add an organization member (RoleAssignments-shaped roles); returns the user id.

        Role ids must be valid, but the resources need not exist: the real service keeps
        assignments to deployments that were deleted or hidden.
        """
        with self._lock:
            if self._find_member(email) is not None:
                raise ValueError(f"{email} is already a member")
            user_id = user_id or self._new_user_id()
            if user_id in self._members:
                raise ValueError(f"user id {user_id} is taken")
            member = _Member(user_id, email, name or email.split("@")[0], _iso(_now()))
            assignments = list(_iter_assignments(role_assignments))
            for a in assignments:
                if a.kind == "platform" or a.role_id not in VALID_ROLE_IDS[a.kind]:
                    raise ValueError(f"invalid {a.kind} role id {a.role_id!r}")
            self._apply(member, assignments, add=True, semantics=self.semantics)
            self._members[user_id] = member
            return user_id

    def change_email(self, user_id: str, email: str) -> None:
        """The member changes their account's email, as members may at any time."""
        with self._lock:
            self._members[user_id].email = email

    def remove_member(self, user_id: str) -> None:
        with self._lock:
            del self._members[user_id]

    def member(self, user_id: str) -> dict[str, Any]:
        """The user's current role assignments, in the API's RoleAssignments shape."""
        with self._lock:
            return self._role_assignments_json(self._members[user_id])

    def member_by_email(self, email: str) -> dict[str, Any]:
        """Like ``member``, looked up by email (case-insensitive)."""
        with self._lock:
            member = self._find_member(email)
            if member is None:
                raise KeyError(email)
            return self._role_assignments_json(member)

    def user_id_for(self, email: str) -> str | None:
        with self._lock:
            member = self._find_member(email)
            return member.user_id if member else None

    def members(self) -> list[dict[str, Any]]:
        """All memberships, exactly as ``GET .../members`` returns them."""
        with self._lock:
            return [self._membership_json(m) for m in self._members.values()]

    def holdings(self, user_id: str) -> set[tuple[str, str, str]]:
        """The user's access as a flat set of (kind, role_id, target) for easy asserts.

        ``kind`` is organization, deployment, elasticsearch, observability or security;
        ``target`` is a resource id, ``*`` for ``all: true``, or the organization id.
        """
        return {(kind, role, target) for kind, role, target, _ in self.entries(user_id)}

    def entries(self, user_id: str) -> set[tuple[str, str, str, Apps]]:
        """:meth:`holdings` with each entry's ``application_roles`` (None: absent; ``()``:
        console only), so that a plain entry and one with application roles differ."""
        with self._lock:
            member = self._members[user_id]
            held: set[tuple[str, str, str, Apps]] = {
                ("organization", r, self.organization_id, None) for r in member.org_roles
            }
            for (kind, role, apps), scope in member.scoped.items():
                targets = ({"*"} if scope.all else set()) | scope.ids
                held |= {(kind, role, t, apps) for t in targets}
            return held

    def add_deployment(
        self,
        name: str,
        tags: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        deployment_id: str | None = None,
        hidden: bool = False,
    ) -> str:
        """Add a hosted deployment; tags may repeat a key when given as pairs."""
        pairs = list(tags.items()) if isinstance(tags, Mapping) else list(tags or [])
        deployment_id = deployment_id or uuid.uuid4().hex
        if not _DEPLOYMENT_ID_RE.fullmatch(deployment_id):
            raise ValueError(f"deployment ids are 32 lowercase hex characters: {deployment_id}")
        with self._lock:
            if deployment_id in self._deployments:
                raise ValueError(f"deployment {deployment_id} exists")
            self._deployments[deployment_id] = _Deployment(
                deployment_id,
                name,
                _slug(name),
                [(str(k), str(v)) for k, v in pairs],
                hidden,
                self._next_seq(),
            )
        return deployment_id

    def edit_deployment(
        self,
        deployment_id: str,
        *,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Rename a deployment or replace its tags, as anyone with access to it may."""
        with self._lock:
            dep = self._deployments[deployment_id]
            if name is not None:
                dep.name, dep.alias = name, _slug(name)
            if tags is not None:
                dep.tags = [(str(k), str(v)) for k, v in tags.items()]

    def remove_deployment(self, deployment_id: str) -> None:
        """Delete a deployment; role assignments naming it stay behind (issue #1040)."""
        with self._lock:
            del self._deployments[deployment_id]

    def set_hidden(self, deployment_id: str, hidden: bool = True) -> None:
        """Hide (shut down) or unhide a deployment: hidden ones leave list and search
        results, and role-assignment calls naming them fail with 403."""
        with self._lock:
            self._deployments[deployment_id].hidden = hidden

    def add_project(
        self,
        type: str,  # noqa: A002 - the API's own word
        name: str,
        tags: Mapping[str, str] | None = None,
        project_id: str | None = None,
        roles: Iterable[str | tuple[str, str]] = (),
    ) -> str:
        """Add a serverless project; tags must satisfy the spec's key/value rules. ``roles``:
        its custom roles (names, or (name, description)), as ``set_project_roles``."""
        if type not in PROJECT_TYPES:
            raise ValueError(f"project type must be one of {PROJECT_TYPES}")
        tags = dict(tags or {})
        for key, value in tags.items():
            if not _PROJECT_TAG_KEY_RE.fullmatch(key) or not _PROJECT_TAG_VALUE_RE.fullmatch(value):
                raise ValueError(f"tag {key}={value} breaks the spec's ProjectTags rules")
        project_id = project_id or uuid.uuid4().hex
        if not _PROJECT_ID_RE.fullmatch(project_id):
            raise ValueError(f"project ids are 32 characters of [a-z0-9]: {project_id}")
        with self._lock:
            if project_id in self._projects:
                raise ValueError(f"project {project_id} exists")
            alias = f"{_slug(name, 40)}-{project_id[:6]}"
            self._projects[project_id] = _Project(
                project_id, type, name, alias, tags, _iso(_now()), self._next_seq()
            )
        self.set_project_roles(project_id, roles)
        return project_id

    def set_project_roles(self, project_id: str, roles: Iterable[str | tuple[str, str]]) -> None:
        """The custom roles ``GET …/{type}/{id}/roles`` lists for the project from now on."""
        with self._lock:
            self._project_roles[project_id] = [
                (r, f"custom role {r}") if isinstance(r, str) else (r[0], r[1]) for r in roles
            ]

    def add_raw_assignment(self, user_id: str, kind: str, entry: dict[str, Any]) -> None:
        """List ``entry`` verbatim among the member's ``kind`` (``deployment`` or a project
        type) assignments, malformed or not; it changes nothing the member holds. Any other
        ``kind`` (``platform``, a project type the bot does not know, ``project:<type>``)
        is listed as such: scopes the live service has and the copied spec may not."""
        with self._lock:
            self._raw_assignments.setdefault(user_id, []).append((kind, dict(entry)))

    def remove_project(self, project_id: str) -> None:
        with self._lock:
            del self._projects[project_id]

    def invitations(self) -> list[dict[str, Any]]:
        """Pending (and expired, not yet deleted) invitations, in the API's shape."""
        with self._lock:
            return [self._invitation_json(i) for i in self._invitations.values()]

    def expire_invitation(self, token: str) -> None:
        """Move an invitation's expiry into the past (a stand-in for waiting 3 days)."""
        with self._lock:
            self._invitations[token].expires_at = _now() - timedelta(seconds=1)

    def accept_invitation(
        self,
        token: str,
        user_id: str | None = None,
        name: str | None = None,
        email: str | None = None,
    ) -> str:
        """The invitee accepts: they become a member holding the invitation's roles.

        ``email``: the accepting account's own email. The accept call takes only the token
        and the caller's credentials, so any account holding the token may accept."""
        with self._lock:
            invitation = self._invitations.get(token)
            if invitation is None:
                raise KeyError(f"no invitation {token}")
            if invitation.expires_at <= _now():
                raise ValueError(f"invitation {token} has expired")
            user_id = self.add_member(
                email or invitation.email, user_id, name, invitation.role_assignments
            )
            del self._invitations[token]
            return user_id

    # -- fault injection and call records -------------------------------------------------

    def script(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
        raw_body: bytes | None = None,
        delay: float = 0,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` (or ``*``) and
        ``path_regex`` (searched in the path, without query) with this response instead of
        handling them; no state changes. ``raw_body`` is sent verbatim (content type
        ``text/html`` unless ``headers`` say otherwise); ``delay`` waits before answering.
        Scripts are checked before authentication, like a proxy in front of the service.
        """
        with self._lock:
            self._scripts.append(
                _Script(
                    method.upper(),
                    re.compile(path_regex),
                    status,
                    body,
                    dict(headers or {}),
                    times,
                    raw_body,
                    delay,
                )
            )

    def after(
        self, method: str, path_regex: str, action: Callable[[], None], times: int = 1
    ) -> None:
        """Run ``action`` once each of the next ``times`` handled (not scripted) requests
        matching ``method`` and ``path_regex`` succeeds, before its reply is sent: for
        example, script a failure of the read that follows a write."""
        with self._lock:
            self._after.append([method.upper(), re.compile(path_regex), action, times])

    def _run_after(self, method: str, path: str) -> None:
        with self._lock:
            due = []
            for hook in list(self._after):
                if hook[0] in ("*", method) and hook[1].search(path):
                    hook[3] -= 1
                    if hook[3] <= 0:
                        self._after.remove(hook)
                    due.append(hook[2])
        for action in due:
            action()

    def add_api_key(self, key_id: str, expires_at: datetime | None = None) -> None:
        """Metadata of an API key (the bot's own, say) that ``get-api-key`` answers."""
        with self._lock:
            key: dict[str, Any] = {
                "id": key_id,
                "description": "bot",
                "creation_date": _iso(_now()),
            }
            if expires_at is not None:
                key["expiration_date"] = _iso(expires_at)
            self._api_keys[key_id] = key

    def _get_api_key(self, req: _Request) -> _Reply:
        with self._lock:
            key = self._api_keys.get(req.path_params["api_key_id"])
            if key is None:
                raise _ApiError(404, "api_keys.key_not_found", "no such API key")
            return _Reply(200, dict(key))

    def lose_reply(self, method: str, path_regex: str, status: int = 504) -> None:
        """The next request matching ``method`` and ``path_regex`` takes effect, but its
        answer is lost: the caller gets ``status`` (a gateway timeout by default)."""
        with self._lock:
            self._lost_replies.append((method.upper(), re.compile(path_regex), status))

    def _lose(self, method: str, path: str, reply: _Reply) -> _Reply:
        with self._lock:
            for lost in self._lost_replies:
                if lost[0] in ("*", method) and lost[1].search(path):
                    self._lost_replies.remove(lost)
                    return _error_reply(lost[2], f"emulator.lost_{lost[2]}", "answer lost")
        return reply

    def clear_scripts(self) -> None:
        with self._lock:
            self._scripts.clear()
            self._after.clear()

    def calls_to(self, method: str, path_substring: str) -> list[dict[str, Any]]:
        """Recorded calls with this method (``*`` for any) whose path contains the text."""
        with self._lock:
            return [
                c
                for c in self.calls
                if method in ("*", c["method"]) and path_substring in c["path"]
            ]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def spec_violations(self) -> list[dict[str, Any]]:
        """Recorded calls the specs would reject (handy as a final assertion)."""
        with self._lock:
            return [c for c in self.calls if c["spec_errors"]]

    # -- request pipeline -------------------------------------------------------------------

    def _handle_http(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Reply:
        parts = urlsplit(target)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        body: Any = None
        malformed = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body, malformed = raw.decode("utf-8", "replace"), True
        record: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": query,
            "body": body,
            "headers": headers,
            "status": None,
            "time": time.monotonic(),
            "spec_errors": [],
            "response": None,
        }
        with self._lock:
            self.calls.append(record)
        verdict = self.validator.check(method, path, query, None if malformed else body)
        live_only = self._live_only(method, path)
        if live_only is not None:
            verdict = Verdict(200)
        record["spec_errors"] = list(verdict.errors) + (["body is not JSON"] if malformed else [])
        # As the service would: a request is authenticated and validated before anything
        # else (a scripted outage included) can answer it.
        reply = self._refusal(headers, raw, malformed, verdict)
        if reply is None:
            reply = self._scripted(method, path)
        if reply is None and live_only is not None:
            reply = live_only()
        if reply is None:
            reply = self._respond(method, path, query, headers, body, raw, malformed, verdict)
            if 200 <= reply.status < 300:
                self._run_after(method, path)
            reply = self._lose(method, path, reply)
        record["status"] = reply.status
        record["response"] = reply.body if reply.raw is None else reply.raw
        self._decorate(reply)
        return reply

    def _live_only(self, method: str, path: str) -> Callable[[], _Reply] | None:
        """Operations of the live API that the copied spec lacks: their handler, else None."""
        if (
            method == "GET"
            and path == f"/api/v1/organizations/{self.organization_id}/role_mappings"
        ):
            return self._get_role_mappings
        return None

    def _get_role_mappings(self) -> _Reply:
        with self._lock:
            if self.role_mappings is None:
                return _error_reply(404, "root.resource_not_found", "no role mappings endpoint")
            return _Reply(200, {"mappings": [dict(m) for m in self.role_mappings]})

    def _scripted(self, method: str, path: str) -> _Reply | None:
        with self._lock:
            for script in self._scripts:
                if script.method in ("*", method) and script.pattern.search(path):
                    script.remaining -= 1
                    if script.remaining <= 0:
                        self._scripts.remove(script)
                    break
            else:
                return None
        if script.delay:
            self._stopping.wait(script.delay)
        reply_headers = dict(script.headers)
        if script.raw_body is not None:
            if not any(k.lower() == "content-type" for k in reply_headers):
                reply_headers["Content-Type"] = "text/html; charset=utf-8"
            return _Reply(script.status, headers=reply_headers, raw=script.raw_body)
        body = script.body
        if body is None and script.status >= 400:
            body = {
                "errors": [
                    {"code": f"emulator.scripted_{script.status}", "message": "scripted error"}
                ]
            }
        if isinstance(body, dict) and body.get("errors"):
            code = body["errors"][0].get("code") if isinstance(body["errors"], list) else None
            if code:
                reply_headers.setdefault("x-cloud-error-codes", str(code))
        return _Reply(script.status, body if body is not None else {}, reply_headers)

    def _refusal(
        self, headers: dict[str, str], raw: bytes, malformed: bool, verdict: Verdict
    ) -> _Reply | None:
        """The answer to a request that is not authenticated or not valid, else None."""
        scheme, _, key = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "apikey" or key.strip() != self.api_key:
            return _error_reply(401, "root.unauthorized", "The supplied credentials are invalid")
        if verdict.status in (404, 405):
            reply = _error_reply(verdict.status, verdict.code or "", "; ".join(verdict.errors))
            if verdict.allowed_methods:
                reply.headers["Allow"] = ", ".join(verdict.allowed_methods)
            return reply
        if raw:
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":
                return _error_reply(
                    415,
                    "root.unsupported_media_type",
                    f"request bodies must be application/json, got {media or 'nothing'}",
                )
            if malformed:
                return _error_reply(400, "root.invalid_json_request", "body is not valid JSON")
        if not verdict.ok:
            return _error_reply(400, verdict.code or "root.invalid_data", "; ".join(verdict.errors))
        return None

    def _respond(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
        raw: bytes,
        malformed: bool,
        verdict: Verdict,
    ) -> _Reply:
        op = verdict.operation
        assert op is not None
        handler = self._handlers.get(op.operation_id)
        if handler is None:
            return _error_reply(
                501,
                "emulator.not_implemented",
                f"{op.operation_id} is valid per the spec but not emulated",
            )
        request = _Request(method, path, query, body, op, verdict.path_params)
        try:
            return handler(request)
        except _ApiError as err:
            return _error_reply(err.status, err.code, err.message)
        except Exception as err:  # an emulator bug: make it loud, not a hung connection
            return _error_reply(500, "emulator.internal_error", repr(err))

    def _decorate(self, reply: _Reply) -> None:
        """Add the headers every Elastic Cloud response carries."""
        window_start = time.monotonic() - 60
        with self._lock:
            recent = sum(1 for c in self.calls if c["time"] >= window_start)
        defaults = {
            "Content-Type": "application/json",
            "x-ratelimit-interval": self.ratelimit_interval,
            "x-ratelimit-limit": str(self.ratelimit_limit),
            "x-ratelimit-remaining": str(max(0, self.ratelimit_limit - recent)),
        }
        present = {k.lower() for k in reply.headers}
        for name, value in defaults.items():
            if name.lower() not in present:
                reply.headers[name] = value

    # -- helpers ----------------------------------------------------------------------------

    def _new_user_id(self) -> str:
        while True:
            candidate = str(secrets.randbelow(9 * 10**15) + 10**15)
            if candidate not in self._members:
                return candidate

    def _find_member(self, email: str) -> _Member | None:
        wanted = email.strip().lower()
        return next((m for m in self._members.values() if m.email.lower() == wanted), None)

    def _require_org(self, organization_id: str) -> None:
        if organization_id != self.organization_id:
            raise _ApiError(404, "organization.not_found", f"organization {organization_id}")

    def _organization_json(self) -> dict[str, Any]:
        return {
            "id": self.organization_id,
            "name": self.organization_name,
            "default_disk_usage_alerts_enabled": True,
            "notifications_allowed_email_domains": [],
            "billing_contacts": [],
            "operational_contacts": [],
        }

    def _role_assignments_json(self, member: _Member) -> dict[str, Any]:
        org = self.organization_id
        out: dict[str, Any] = {
            "organization": [
                {"role_id": r, "organization_id": org} for r in sorted(member.org_roles)
            ],
            "deployment": [],
            "project": {kind: [] for kind in PROJECT_TYPES},
        }
        for (kind, role, apps), scope in sorted(
            member.scoped.items(), key=lambda item: _key_order(item[0])
        ):
            entries: list[dict[str, Any]] = []
            if scope.all:
                entries.append({"role_id": role, "organization_id": org, "all": True})
            if scope.ids:  # ids-scoped entries carry no "all", like the published samples
                ids_key = "deployment_ids" if kind == "deployment" else "project_ids"
                entries.append(
                    {"role_id": role, "organization_id": org, ids_key: sorted(scope.ids)}
                )
            for entry in entries:
                if apps is not None:
                    entry["application_roles"] = list(apps)
                if kind == "deployment":
                    out["deployment"].append(entry)
                else:
                    out["project"][kind].append(entry)
        for kind, raw in self._raw_assignments.get(member.user_id, []):
            if kind == "deployment":
                out["deployment"].append(raw)
            elif kind in PROJECT_TYPES or kind.startswith("project:"):
                out["project"].setdefault(kind.removeprefix("project:"), []).append(raw)
            else:
                out.setdefault(kind, []).append(raw)
        return out

    def _membership_json(self, member: _Member) -> dict[str, Any]:
        return {
            "organization_id": self.organization_id,
            "user_id": member.user_id,
            "name": member.name,
            "email": member.email,
            "member_since": member.member_since,
            "role_assignments": self._role_assignments_json(member),
        }

    def _invitation_json(self, invitation: _Invitation) -> dict[str, Any]:
        out: dict[str, Any] = {
            "token": invitation.token,
            "email": invitation.email,
            "created_at": _iso(invitation.created_at),
            "expires_at": _iso(invitation.expires_at),
            "expired": invitation.expires_at <= _now(),
            "organization": {"id": self.organization_id, "name": self.organization_name},
        }
        if invitation.role_assignments is not None:
            out["role_assignments"] = invitation.role_assignments
        return out

    def _authorize(self, assignments: list[_Assignment]) -> None:
        """Refuse the whole call if any assignment is invalid or not ours to grant."""
        for a in assignments:
            if a.kind != "platform" and a.role_id not in VALID_ROLE_IDS[a.kind]:
                raise _ApiError(
                    400,
                    "role_assignments.invalid_role_id",
                    f"{a.role_id!r} is not a valid {a.kind} role",
                )
        denied = "You are not authorised to change the specified RoleAssignments."
        semantics = self.semantics
        any_hidden = any(d.hidden for d in self._deployments.values())
        for a in assignments:
            if a.kind == "platform" or a.organization_id != self.organization_id:
                raise _ApiError(403, "role_assignments.unauthorized_role_assignments", denied)
            if a.kind == "deployment" and a.all and any_hidden and semantics.hidden_refuses_all:
                raise _ApiError(403, "role_assignments.unauthorized_role_assignments", denied)
            for resource_id in a.ids:
                if a.kind == "deployment":
                    dep = self._deployments.get(resource_id)
                    visible = dep is not None and (
                        not dep.hidden or not semantics.hidden_refuses_named
                    )
                else:
                    project = self._projects.get(resource_id)
                    visible = project is not None and project.type == a.kind
                if not visible:
                    raise _ApiError(403, "role_assignments.unauthorized_role_assignments", denied)

    @staticmethod
    def _apply(
        member: _Member, assignments: list[_Assignment], *, add: bool, semantics: Semantics
    ) -> None:
        """Merge (add) or subtract (remove) assignments; no reference counting."""
        absorbs = semantics.all_absorbs
        for a in assignments:
            if a.kind == "organization":
                if add:
                    member.org_roles.add(a.role_id)
                else:
                    member.org_roles.discard(a.role_id)
                continue
            key = (a.kind, a.role_id, a.application_roles)
            if add:
                scope = member.scoped.setdefault(key, _Scope())
                if a.all:
                    scope.all = True
                    if absorbs:
                        scope.ids = set()
                elif not scope.all or not absorbs:
                    scope.ids |= set(a.ids)
                if not scope.all and not scope.ids:
                    del member.scoped[key]
                continue
            # Strict: only the entry with the same application_roles; lenient: every entry
            # of the role, whatever application_roles it or the DELETE carries.
            keys = (
                [key]
                if semantics.delete_needs_application_roles
                else [k for k in member.scoped if k[:2] == key[:2]]
            )
            for k in keys:
                scope = member.scoped.get(k)
                if scope is None:
                    continue
                if a.all and scope.all:
                    scope.all = False
                    if absorbs:
                        scope.ids = set()
                elif not a.all and (not scope.all or not absorbs):
                    scope.ids -= set(a.ids)
                if not scope.all and not scope.ids:
                    del member.scoped[k]

    # -- handlers: account and organization -------------------------------------------------

    def _get_account(self, req: _Request) -> _Reply:
        return _Reply(200, {"id": f"account-{self.organization_id}"})

    def _list_organizations(self, req: _Request) -> _Reply:
        return _Reply(200, {"organizations": [self._organization_json()]})

    def _get_organization(self, req: _Request) -> _Reply:
        self._require_org(req.path_params["organization_id"])
        return _Reply(200, self._organization_json())

    def _list_members(self, req: _Request) -> _Reply:
        self._require_org(req.path_params["organization_id"])
        return _Reply(200, {"members": self.members()})

    def _delete_members(self, req: _Request) -> _Reply:
        self._require_org(req.path_params["organization_id"])
        user_ids = [u for u in req.path_params["user_ids"].split(",") if u]
        with self._lock:
            missing = [u for u in user_ids if u not in self._members]
            if missing or not user_ids:
                raise _ApiError(
                    404, "organization.membership_not_found", f"no membership for {missing}"
                )
            for user_id in user_ids:
                del self._members[user_id]
        return _Reply(200, {})

    # -- handlers: role assignments ---------------------------------------------------------

    def _change_roles(self, req: _Request, *, add: bool) -> _Reply:
        with self._lock:
            member = self._members.get(req.path_params["user_id"])
            if member is None:
                raise _ApiError(
                    400,
                    "role_assignments.invalid_target_user_id",
                    f"user {req.path_params['user_id']} is not in organization "
                    f"{self.organization_id}",
                )
            assignments = list(_iter_assignments(req.body))
            if not assignments:
                raise _ApiError(
                    400,
                    "role_assignments.invalid_role_assignments",
                    "the request names no role assignment",
                )
            self._authorize(assignments)
            if add:
                self._displace(member, assignments, self.semantics)
            self._apply(member, assignments, add=add, semantics=self.semantics)
        return _Reply(200, {})

    @staticmethod
    def _displace(member: _Member, assignments: list[_Assignment], semantics: Semantics) -> None:
        """One role per resource: adding a role on a deployment or project takes away the
        member's other roles there, and an organization role replaces the other one."""
        for a in assignments:
            if a.kind == "organization":
                if semantics.one_organization_role:
                    member.org_roles -= {r for r in member.org_roles if r != a.role_id}
                continue
            if not semantics.one_role_per_resource:
                continue
            for (kind, role, apps), scope in list(member.scoped.items()):
                if kind == a.kind and role != a.role_id and not scope.all:
                    scope.ids -= set(a.ids)
                    if not scope.ids:
                        del member.scoped[(kind, role, apps)]

    def _add_role_assignments(self, req: _Request) -> _Reply:
        return self._change_roles(req, add=True)

    def _remove_role_assignments(self, req: _Request) -> _Reply:
        return self._change_roles(req, add=False)

    # -- handlers: invitations ----------------------------------------------------------------

    def _list_invitations(self, req: _Request) -> _Reply:
        self._require_org(req.path_params["organization_id"])
        return _Reply(200, {"invitations": self.invitations()})

    def _create_invitations(self, req: _Request) -> _Reply:
        self._require_org(req.path_params["organization_id"])
        body = req.body
        try:
            ttl = parse_duration(body["expires_in"]) if "expires_in" in body else None
            units = [u for _, u in _DURATION_PART_RE.findall(body.get("expires_in", ""))]
            if not self.semantics.invitation_minutes and {"s", "m"} & set(units):
                raise ValueError(f"expires_in {body['expires_in']!r}: use hours or days")
        except ValueError as err:
            raise _ApiError(400, "root.invalid_data", str(err)) from None
        ttl = ttl or DEFAULT_INVITATION_TTL
        emails: list[str] = []
        for email in body["emails"]:
            if not _EMAIL_RE.fullmatch(email.strip()):
                raise _ApiError(
                    400, "organization.invitation_invalid_email", f"invalid email {email!r}"
                )
            if email.strip().lower() not in {e.lower() for e in emails}:
                emails.append(email.strip())
        if not emails:
            raise _ApiError(400, "organization.invitation_invalid_email", "no emails given")
        role_assignments = body.get("role_assignments")
        now = _now()
        with self._lock:
            self._authorize(list(_iter_assignments(role_assignments)))
            replaced: list[str] = []
            for email in emails:
                if self._find_member(email) is not None:
                    raise _ApiError(
                        400,
                        "organization.user_organization_already_belongs",
                        f"{email} already belongs to the organization",
                    )
                for token, inv in self._invitations.items():
                    if inv.email.lower() == email.lower():
                        if inv.expires_at > now:
                            raise _ApiError(
                                400,
                                "organization.invitation_already_exists",
                                f"an invitation for {email} is pending",
                            )
                        replaced.append(token)  # an expired one is refreshed
            for token in replaced:
                del self._invitations[token]
            created = []
            for email in emails:
                invitation = _Invitation(
                    secrets.token_hex(16), email, now, now + ttl, role_assignments
                )
                self._invitations[invitation.token] = invitation
                created.append(self._invitation_json(invitation))
        return _Reply(201, {"invitations": created})

    def _delete_invitations(self, req: _Request) -> _Reply:
        self._require_org(req.path_params["organization_id"])
        tokens = [t for t in req.path_params["invitation_tokens"].split(",") if t.strip()]
        if not tokens:
            raise _ApiError(400, "root.invalid_data", "no invitation token supplied")
        with self._lock:
            missing = [t for t in tokens if t not in self._invitations]
            if missing:
                raise _ApiError(
                    404, "organization.invitation_not_found", f"no invitation {missing[0]}"
                )
            for token in tokens:
                del self._invitations[token]
        return _Reply(200, {})

    def _get_invitation(self, req: _Request) -> _Reply:
        with self._lock:
            invitation = self._invitations.get(req.path_params["invitation_token"])
            if invitation is None:
                raise _ApiError(404, "organization.invitation_not_found", "no such invitation")
            return _Reply(200, self._invitation_json(invitation))

    def _accept_invitation_http(self, req: _Request) -> _Reply:
        """Accepting needs the invitee's own credentials; the bot's key already belongs
        to the organization, so the service refuses it."""
        with self._lock:
            if req.path_params["invitation_token"] not in self._invitations:
                raise _ApiError(404, "organization.invitation_not_found", "no such invitation")
        raise _ApiError(
            400,
            "organization.user_organization_already_belongs",
            "the caller already belongs to an organization",
        )

    # -- handlers: deployments -------------------------------------------------------------

    @staticmethod
    def _deployment_json(dep: _Deployment) -> dict[str, Any]:
        metadata: dict[str, Any] = {"tags": [{"key": k, "value": v} for k, v in dep.tags]}
        if dep.hidden:
            metadata["hidden"] = True  # what the live API adds for shut-down deployments
        return {
            "id": dep.id,
            "name": dep.name,
            "alias": dep.alias,
            "healthy": True,
            "resources": {
                "elasticsearch": [],
                "kibana": [],
                "apm": [],
                "appsearch": [],
                "enterprise_search": [],
                "integrations_server": [],
            },
            "metadata": metadata,
        }

    def _list_deployments(self, req: _Request) -> _Reply:
        with self._lock:
            visible = [d for d in self._deployments.values() if not d.hidden]
        return _Reply(
            200,
            {
                "deployments": [
                    {
                        "id": d.id,
                        "name": d.name,
                        "resources": [
                            {
                                "ref_id": f"main-{kind}",
                                "id": uuid.uuid5(uuid.NAMESPACE_OID, d.id + kind).hex,
                                "kind": kind,
                                "region": d.region,
                            }
                            for kind in ("elasticsearch", "kibana")
                        ],
                    }
                    for d in visible
                ]
            },
        )

    def _get_deployment(self, req: _Request) -> _Reply:
        with self._lock:
            dep = self._deployments.get(req.path_params["deployment_id"])
            if dep is None:
                raise _ApiError(
                    404,
                    "deployments.deployment_not_found",
                    f"deployment {req.path_params['deployment_id']} could not be found",
                )
            return _Reply(200, self._deployment_json(dep))

    def _search_deployments(self, req: _Request) -> _Reply:
        body = req.body or {}
        with self._lock:
            if "cursor" in body:  # "When set, all other fields are ignored."
                cursor = self._cursors.get(body["cursor"])
                if cursor is None:
                    raise _ApiError(400, "root.invalid_data", "unknown or expired cursor")
                query, fields, size, last = cursor.query, cursor.fields, cursor.size, cursor.last
                offset = 0
            else:
                query, fields = body.get("query"), _sort_fields(body.get("sort"))
                _check_query(query)
                size = body.get("size", DEFAULT_SEARCH_SIZE)
                offset, last = body.get("from", 0), None
                if size < 0 or offset < 0:
                    raise _ApiError(400, "root.invalid_data", "size and from must be >= 0")
                size = min(size, MAX_SEARCH_SIZE)
            matching = [
                d for d in self._deployments.values() if not d.hidden and _query_matches(query, d)
            ]
            for index in reversed(range(len(fields))):
                name, descending = fields[index]
                matching.sort(key=lambda d, i=index: _sort_key(d, fields)[i], reverse=descending)
            remaining = [
                d for d in matching if last is None or _is_after(_sort_key(d, fields), last, fields)
            ][offset:]
            page = remaining[:size]
            result: dict[str, Any] = {"return_count": len(page), "match_count": len(matching)}
            wanted = req.query.get("minimal_metadata")
            if wanted:
                names = [n.strip() for n in wanted[-1].split(",") if n.strip()]
                result["deployments"] = []
                result["minimal_metadata"] = [
                    {n: v for n, v in self._deployment_json(d).items() if n in names} for d in page
                ]
            else:
                result["deployments"] = [self._deployment_json(d) for d in page]
            if page and len(remaining) > len(page):
                token = secrets.token_urlsafe(18)
                self._cursors[token] = _Cursor(query, fields, size, _sort_key(page[-1], fields))
                result["cursor"] = token
        return _Reply(200, result)

    # -- handlers: serverless projects -------------------------------------------------------

    def _project_json(self, project: _Project) -> dict[str, Any]:
        host = f"{project.alias}.{{}}.{project.region_id.removeprefix('aws-')}.aws.elastic.cloud"
        endpoints = {
            "elasticsearch": f"https://{host.format('es')}",
            "kibana": f"https://{host.format('kb')}",
        }
        if project.type == "observability":
            endpoints["apm"] = f"https://{host.format('apm')}"
        if project.type in ("observability", "security"):
            endpoints["ingest"] = f"https://{host.format('ingest')}"
        metadata: dict[str, Any] = {
            "created_at": project.created_at,
            "created_by": "1000000000000001",
            "organization_id": self.organization_id,
        }
        if project.tags:  # the spec demands at least one tag when the map is present
            metadata["tags"] = dict(project.tags)
        out: dict[str, Any] = {
            "id": project.id,
            "name": project.name,
            "alias": project.alias,
            "region_id": project.region_id,
            "cloud_id": f"{project.alias}:ZW11bGF0ZWQ=",
            "type": project.type,
            "metadata": metadata,
            "endpoints": endpoints,
        }
        if project.type == "elasticsearch":
            out["optimized_for"] = "general_purpose"
        elif project.type == "observability":
            out["product_tier"] = "complete"
        else:
            out["product_types"] = [
                {"product_line": line, "product_tier": "complete"}
                for line in ("security", "cloud", "endpoint")
            ]
        return out

    def _list_projects(self, kind: str, req: _Request) -> _Reply:
        wanted_tags = {
            m.group(2): values[-1]
            for key, values in req.query.items()
            if (m := _DEEP_OBJECT_RE.fullmatch(key)) and m.group(1) == "tags"
        }
        # The emulator models neither traffic filters nor linked projects: such
        # filters match nothing.
        unmatched_filter = "traffic_filter" in req.query or "linked" in req.query
        with self._lock:
            items = [
                self._project_json(p)
                for p in sorted(self._projects.values(), key=lambda p: p.seq)
                if p.type == kind
                and not unmatched_filter
                and all(p.tags.get(k) == v for k, v in wanted_tags.items())
            ]
        return _Reply(200, {"items": items})

    def _get_project_roles(self, kind: str, req: _Request) -> _Reply:
        """``ProjectRolesByProjectID``: ``{<id>: {"roles": [{name, description}]}}``."""
        project_id = req.path_params["id"]
        with self._lock:
            project = self._projects.get(project_id)
            if project is None or project.type != kind:
                raise _ApiError(404, "projects.not_found", f"{kind} project not found")
            roles = [
                {"name": name, "description": description}
                for name, description in self._project_roles.get(project_id, [])
            ]
        return _Reply(200, {project_id: {"roles": roles}})

    def _get_project(self, kind: str, req: _Request) -> _Reply:
        with self._lock:
            project = self._projects.get(req.path_params["id"])
            if project is None or project.type != kind:
                raise _ApiError(404, "projects.not_found", f"{kind} project not found")
            reply = _Reply(200, self._project_json(project))
        reply.headers["ETag"] = f'"{project.seq}"'
        return reply
