"""The published specs' schemas as draft-4 JSON Schema, with the rules they state in prose.

Elastic publishes Swagger 2.0 (the Cloud API) and OpenAPI 3.0.1 (serverless projects); neither
dialect is plain JSON Schema. Kept apart from loading and routing (:mod:`.spec`) because this is
where the emulator decides what "well-formed" means: a request may carry only the properties its
schema declares (a misspelt ``deploymnet_ids`` is refused), and a role assignment carries ``all``
or ids, never both and never neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema

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


def _schema_errors(validator: Any, instance: Any, where: str) -> list[str]:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    out: list[str] = []
    for err in errors[:20]:
        location = where + err.json_path.removeprefix("$")
        out.append(f"{location}: {err.message}")
    return out
