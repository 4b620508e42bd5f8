"""Every rabbitmq_* resource the stacks synthesize fits the provider's schema.

The RabbitMQ provider cannot be installed here, so `terraform validate` cannot check these
resources; the schema file (see tests/schema_check.py) stands in for it.
"""

from __future__ import annotations

from typing import Any

from tests.schema_check import rabbitmq_schema, resource_problems


def test_rabbitmq_resources_fit_the_provider_schema(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    schemas = rabbitmq_schema()["resource_schemas"]
    checked = 0
    problems: list[str] = []
    for env, stack in stack_json.items():
        for resource_type, bodies in stack.get("resource", {}).items():
            if not resource_type.startswith("rabbitmq_"):
                continue
            assert resource_type in schemas, f"{env}: no schema for {resource_type}"
            for resource_id, body in bodies.items():
                where = f"{env}: {resource_type}.{resource_id}"
                problems += resource_problems(body, schemas[resource_type]["block"], where)
                checked += 1
    assert problems == []
    assert checked > 0
