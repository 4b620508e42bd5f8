"""Every rabbitmq_* and google_* resource the stacks synthesize fits its provider's schema.

Neither provider can be installed here, so `terraform validate` cannot check these resources;
the schema files (see tests/schema_check.py) stand in for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.schema_check import (
    GOOGLE_SCHEMA_FILE,
    google_schema,
    rabbitmq_schema,
    resource_problems,
)
from tools.google_provider_schema import schema, used_types


def _check(
    stack_json: dict[str, dict[str, Any]], prefix: str, schemas: dict[str, Any], section: str
) -> tuple[int, list[str]]:
    kind = {"resource": "resource_schemas", "data": "data_source_schemas"}[section]
    checked = 0
    problems: list[str] = []
    for env, stack in stack_json.items():
        for resource_type, bodies in stack.get(section, {}).items():
            if not resource_type.startswith(prefix):
                continue
            assert resource_type in schemas[kind], f"{env}: no schema for {resource_type}"
            for resource_id, body in bodies.items():
                where = f"{env}: {section}.{resource_type}.{resource_id}"
                problems += resource_problems(body, schemas[kind][resource_type]["block"], where)
                checked += 1
    return checked, problems


def test_rabbitmq_resources_fit_the_provider_schema(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    checked, problems = _check(stack_json, "rabbitmq_", rabbitmq_schema(), "resource")
    assert problems == []
    assert checked > 0


@pytest.mark.parametrize("section", ["resource", "data"])
def test_google_resources_fit_the_provider_schema(
    stack_json: dict[str, dict[str, Any]], section: str
) -> None:
    checked, problems = _check(stack_json, "google_", google_schema(), section)
    assert problems == []
    if section == "resource":
        assert checked > 0


def test_the_google_schema_file_is_what_the_pinned_bindings_say(synth_dir: Path) -> None:
    """Regenerate it (`make google-schema`) when the bindings or the types in use change."""
    committed = json.loads(GOOGLE_SCHEMA_FILE.read_text())
    assert committed == schema(*used_types(synth_dir / "stacks"))
