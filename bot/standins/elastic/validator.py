"""Checking one request: :class:`SpecValidator` and its :class:`Verdict`.

Usable on its own: ``validate(method, path, query, body)`` returns the list of violations of a
request, empty when it conforms. With Elastic's published specs at hand it checks against them;
without them (a bare clone) against the emulator's own request models (:mod:`.models`), in the
same words and with the same statuses. The project's tests use it to prove that every request
the client builds conforms; the emulator uses it to refuse what the real service refuses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bot.standins.elastic.models import request_errors
from bot.standins.elastic.schema import _schema_errors
from bot.standins.elastic.spec import Operation, _builtin_spec, _load_spec

_DEEP_OBJECT_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\[([^\[\]]*)\]$")


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
    """Checks requests against the two published Elastic Cloud specs, or without them
    against the emulator's own request models.

    The project's own tests use it to prove that every request the client builds
    conforms; the emulator uses it to refuse what the real service refuses.
    """

    def __init__(self, spec_dir: Path | str | None) -> None:
        """``spec_dir`` None: no published specs here (a bare clone). Requests are routed by
        the emulator's own table (:mod:`bot.standins.elastic.routes`) and checked against its
        own request models (:mod:`bot.standins.elastic.models`): bodies, query and path
        parameters of the operations it serves. :attr:`documented` says which of the two this
        validator does. Responses are checked only against the specs."""
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
        if self.documented:
            param_errors = self._check_path(op, verdict.path_params)
            param_errors += self._check_query(op, merged_query)
            body_errors = self._check_body(op, body)
        else:  # no published specs here: the emulator's own request models
            param_errors, body_errors = request_errors(
                op.operation_id, verdict.path_params, merged_query, body
            )
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
