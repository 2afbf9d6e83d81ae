"""The operations the emulator routes: from Elastic's published specs, or its own table.

With ``../shared/elastic-cloud-api`` at hand both specs are parsed once per process
(``apidocs-user.json``, Swagger 2.0 with basePath ``/api/v1``;
``serverless-project-api-dereferenced.yml``, OpenAPI 3.0.1) into :class:`Operation` records
that carry what a request must satisfy. Without them (a bare clone) the emulator routes by
:mod:`.routes` and checks requests against its own models (:mod:`.models`) instead. Why
apart: this is the only module that reads spec files.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.standins.elastic.schema import _ALL_OR_IDS, _convert_schema, _RequestValidator, _Validator

CLOUD_SPEC_FILE = "apidocs-user.json"
SERVERLESS_SPEC_FILE = "serverless-project-api-dereferenced.yml"
CLOUD_BASE_PATH = "/api/v1"


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
    """Routing for the emulated operations only, from :mod:`bot.standins.elastic.routes`."""

    operations: list[Operation]
    by_length: dict[int, list[Operation]]


@functools.cache
def _builtin_spec() -> _BuiltinSpec:
    from bot.standins.elastic.routes import ROUTES

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
