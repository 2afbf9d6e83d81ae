"""``POST /deployments/_search``: the subset of the query DSL a client is likely to send.

Apart because it is a small interpreter of its own: a query the emulator would not evaluate as
the service does (an unknown query type or field) is refused with 400 first, since it would
otherwise match everything or nothing, silently. Sorting always ends on the unique ``id``, and a
cursor remembers the last key of a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.standins.elastic.replies import _ApiError
from bot.standins.elastic.state import _Deployment

DEFAULT_SEARCH_SIZE = 100
MAX_SEARCH_SIZE = 1000


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
