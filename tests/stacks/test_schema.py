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
    stack_problems,
)
from tools.google_provider_schema import schema, used_types


def test_rabbitmq_resources_fit_the_provider_schema(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    checked, problems = stack_problems(stack_json, "rabbitmq_", rabbitmq_schema(), "resource")
    assert problems == []
    assert checked > 0


@pytest.mark.parametrize("section", ["resource", "data"])
def test_google_resources_fit_the_provider_schema(
    stack_json: dict[str, dict[str, Any]], section: str
) -> None:
    checked, problems = stack_problems(stack_json, "google_", google_schema(), section)
    assert problems == []
    if section == "resource":
        assert checked > 0


def test_the_google_schema_file_is_what_the_pinned_bindings_say(synth_dir: Path) -> None:
    """Regenerate it (`make google-schema`) when the bindings or the types in use change."""
    committed = json.loads(GOOGLE_SCHEMA_FILE.read_text())
    assert committed == schema(*used_types(synth_dir / "stacks"))
