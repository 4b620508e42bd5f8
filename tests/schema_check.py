"""Checks synthesized resources against a provider schema (`terraform providers schema -json`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RABBITMQ_SCHEMA_FILE = Path(__file__).resolve().parent / "rabbitmq_provider_schema.json"
# Written by tools/google_provider_schema.py (`make google-schema`) from the pinned bindings.
GOOGLE_SCHEMA_FILE = Path(__file__).resolve().parent / "google_provider_schema.json"


def rabbitmq_schema() -> dict[str, Any]:
    """The cyrilgdn/rabbitmq v1.10.1 schema, transcribed from the provider's Go source."""
    schema: dict[str, Any] = json.loads(RABBITMQ_SCHEMA_FILE.read_text())["provider_schemas"][
        "registry.terraform.io/cyrilgdn/rabbitmq"
    ]
    return schema


def google_schema() -> dict[str, Any]:
    """The hashicorp/google schema for the google_* types the stacks use."""
    schema: dict[str, Any] = json.loads(GOOGLE_SCHEMA_FILE.read_text())["provider_schemas"][
        "registry.terraform.io/hashicorp/google"
    ]
    return schema


_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "bool": bool, "number": (int, float)}


def _type_problem(value: Any, schema_type: Any) -> bool:
    """True when a literal value cannot be of the schema type (references are let through)."""
    if isinstance(value, str) and value.startswith("${"):
        return False
    if isinstance(schema_type, str):
        expected = _TYPES[schema_type]
        if schema_type == "number" and isinstance(value, bool):
            return True
        return not isinstance(value, expected)
    kind, element = schema_type
    if kind == "map":
        return not isinstance(value, dict) or any(_type_problem(v, element) for v in value.values())
    # The Google schema file writes a list of the bindings' jsii types as "array".
    if kind in ("list", "set", "array"):
        return not isinstance(value, list) or any(_type_problem(v, element) for v in value)
    return True


# Terraform's own arguments, allowed on every resource beside what the provider defines.
META_ARGUMENTS = frozenset({"//", "count", "depends_on", "for_each", "lifecycle", "provider"})
LIFECYCLE_ARGUMENTS = frozenset(
    {"create_before_destroy", "prevent_destroy", "ignore_changes", "replace_triggered_by"}
)


def resource_problems(body: dict[str, Any], block: dict[str, Any], where: str) -> list[str]:
    """A whole resource body: the schema's arguments plus Terraform's meta-arguments."""
    problems = [
        f"{where}: unknown lifecycle argument {name!r}"
        for name in body.get("lifecycle", {})
        if name not in LIFECYCLE_ARGUMENTS
    ]
    arguments = {name: value for name, value in body.items() if name not in META_ARGUMENTS}
    return problems + schema_problems(arguments, block, where)


def schema_problems(body: dict[str, Any], block: dict[str, Any], where: str) -> list[str]:
    """Everything in `body` that the schema block would reject, as readable lines."""
    attributes = block.get("attributes", {})
    nested = block.get("block_types", {})
    problems = [
        f"{where}: unknown argument {name!r}"
        for name in body
        if name not in attributes and name not in nested
    ]
    for name, spec in attributes.items():
        if spec.get("required") and name not in body:
            problems.append(f"{where}: required argument {name!r} is missing")
        if name in body and spec.get("computed") and not spec.get("optional"):
            problems.append(f"{where}: {name!r} is computed and cannot be set")
        if name in body and _type_problem(body[name], spec["type"]):
            problems.append(f"{where}: {name} = {body[name]!r} is not of type {spec['type']}")
    for name, spec in nested.items():
        if spec.get("min_items", 0) >= 1 and name not in body:
            problems.append(f"{where}: required block {name!r} is missing")
        if name not in body:
            continue
        items = body[name] if isinstance(body[name], list) else [body[name]]
        if "max_items" in spec and len(items) > spec["max_items"]:
            problems.append(f"{where}: block {name!r} allows at most {spec['max_items']} item")
        for item in items:
            problems += schema_problems(item, spec["block"], f"{where}.{name}")
    return problems


def stack_problems(
    stacks: dict[str, dict[str, Any]], prefix: str, schemas: dict[str, Any], section: str
) -> tuple[int, list[str]]:
    """How many `prefix*` resources (or data sources) of the stacks were checked against
    their schema, and what the schema would reject."""
    kind = {"resource": "resource_schemas", "data": "data_source_schemas"}[section]
    checked = 0
    problems: list[str] = []
    for env, stack in stacks.items():
        for resource_type, bodies in stack.get(section, {}).items():
            if not resource_type.startswith(prefix):
                continue
            assert resource_type in schemas[kind], f"{env}: no schema for {resource_type}"
            for resource_id, body in bodies.items():
                where = f"{env}: {section}.{resource_type}.{resource_id}"
                problems += resource_problems(body, schemas[kind][resource_type]["block"], where)
                checked += 1
    return checked, problems
