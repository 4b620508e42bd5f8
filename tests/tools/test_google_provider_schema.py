from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.schema_check import resource_problems
from tools import google_provider_schema
from tools.google_provider_schema import PROVIDER_ADDRESS, schema


@pytest.fixture(scope="module")
def subscription() -> dict[str, Any]:
    result = schema({"google_pubsub_subscription"}, set())
    block: dict[str, Any] = result["provider_schemas"][PROVIDER_ADDRESS]["resource_schemas"][
        "google_pubsub_subscription"
    ]["block"]
    return block


def test_the_schema_names_the_provider_version_the_bindings_were_made_from() -> None:
    generated = schema({"google_pubsub_topic"}, {"google_project"})
    assert generated["generated_from"] == {
        "package": "cdktf-cdktf-provider-google",
        "package_version": "16.12.1",
        "provider_version": "6.50.0",
    }
    google = generated["provider_schemas"][PROVIDER_ADDRESS]
    assert set(google["resource_schemas"]) == {"google_pubsub_topic"}
    assert set(google["data_source_schemas"]) == {"google_project"}


def test_terraform_names_types_and_blocks(subscription: dict[str, Any]) -> None:
    attributes = subscription["attributes"]
    assert attributes["ack_deadline_seconds"] == {"type": "number", "optional": True}
    assert attributes["topic"] == {"type": "string", "required": True}
    assert attributes["labels"] == {"type": ["map", "string"], "optional": True}
    dead_letter = subscription["block_types"]["dead_letter_policy"]
    assert dead_letter["max_items"] == 1
    assert set(dead_letter["block"]["attributes"]) == {"dead_letter_topic", "max_delivery_attempts"}


def test_the_check_catches_what_the_google_provider_would_reject(
    subscription: dict[str, Any],
) -> None:
    body = {
        "name": "s",
        "ack_deadline_second": 10,
        "enable_message_ordering": "yes",
        "expiration_policy": {},
        "retry_policy": {"minimum_backoff": "10s", "maximum_backof": "600s"},
    }
    assert resource_problems(body, subscription, "s") == [
        "s: unknown argument 'ack_deadline_second'",
        "s: required argument 'topic' is missing",
        "s: enable_message_ordering = 'yes' is not of type bool",
        "s.expiration_policy: required argument 'ttl' is missing",
        "s.retry_policy: unknown argument 'maximum_backof'",
    ]


def test_the_command_refuses_stacks_without_google_types(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "cdk.tf.json").write_text(json.dumps({"resource": {"aws_sqs_queue": {}}}))
    assert google_provider_schema.main([str(tmp_path)]) == 2
    assert "no google_* types" in capsys.readouterr().err
