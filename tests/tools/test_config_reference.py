from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from constructs_lib import registry
from constructs_lib.props import setting
from tools.config_reference import END, START, rewrite, rows, table

PAGE = Path(__file__).resolve().parent.parent.parent / "docs" / "configuration.md"


def test_the_configuration_page_is_what_the_props_declare() -> None:
    """Run `make docs` after changing a setting."""
    text = PAGE.read_text(encoding="utf-8")
    assert rewrite(text) == text


def test_every_config_key_is_listed_once_with_when_it_is_required() -> None:
    keys = [row.key for row in rows()]
    assert len(keys) == len(set(keys))
    assert {"workers", "[state] prefix", "[sqs] region", "[pubsub] kms_key"} <= set(keys)
    required = {row.key: row.required for row in rows()}
    assert (required["workers"], required["[sqs] region"], required["[state] key"]) == (
        "yes",
        "if enabled",
        "for its backend",
    )
    assert required["[sqs] delay_seconds"] == "no"


def test_what_the_stack_or_the_environment_sets_is_not_a_key() -> None:
    """Names come from `name_suffix`, durations and counts from the environment's keys."""
    keys = {row.key for row in rows()}
    assert not keys & {
        "[sqs] name",
        "[sqs] workers",
        "[sqs] visibility_timeout_seconds",
        "[pubsub] ack_deadline_seconds",
        "[rabbitmq] consumer_timeout_seconds",
        "[rabbitmq] exchange_name",
    }


def test_defaults_per_environment_and_merged_state_keys() -> None:
    by_key = {row.key: row for row in rows()}
    assert by_key["prevent_destroy"].default == "`false`; `true` in prod"
    assert by_key["[state] bucket"].meaning == "S3 bucket (`s3`) or Cloud Storage bucket (`gcs`)"
    assert by_key["[rabbitmq] min_broker_version"].default == '`"4.0"`'


def test_a_setting_without_a_meaning_stops_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Bare:
        knob: int = setting(1, meaning=" ")

    backend = registry.BACKENDS[0]
    monkeypatch.setattr(registry, "BACKENDS", (dataclasses.replace(backend, props=Bare),))
    with pytest.raises(ValueError, match=r"^\[sqs\] knob has no meaning"):
        table(rows())


def test_a_page_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="page has no"):
        rewrite("# no reference here\n")
    assert rewrite(f"a\n{START}\nold\n{END}\nb\n").startswith(f"a\n{START}\n| key | type |")
