"""The emulator loader's translation of a synthesized stack, without an emulator.

tests/integration/test_pubsub_emulator.py loads the same stacks into Google's emulator.
"""

from __future__ import annotations

import copy
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tools import pubsub_emulator
from tools.pubsub_emulator import UntranslatableError, topology, wiring

DEV = "projects/ml-queues-dev"
LABELS = {"environment": "dev", "managed_by": "cdktf", "project": "ml-queues"}


def test_dev_topics_and_subscriptions_as_api_requests(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    plan = topology(stack_json["dev"])
    assert [topic["name"] for topic in plan.topics] == [
        f"{DEV}/topics/mlTrainingTopic-dev",
        f"{DEV}/topics/mlTrainingTopic-dev-dead-letter",
        *(f"{DEV}/topics/mlTrainingTopic-dev-worker-{n}" for n in (1, 2, 3)),
    ]
    assert plan.topics[1] == {
        "name": f"{DEV}/topics/mlTrainingTopic-dev-dead-letter",
        "message_retention_duration": {"seconds": 2_678_400},
        "labels": LABELS,
    }
    by_name = {item["name"].rsplit("/", 1)[1]: item for item in plan.subscriptions}
    assert sorted(by_name) == [
        "mlTrainingSubscription-dev",
        "mlTrainingSubscription-dev-dead-letter",
        *(f"mlTrainingSubscription-dev-worker-{n}" for n in (1, 2, 3)),
    ]
    assert by_name["mlTrainingSubscription-dev-worker-2"] == {
        "name": f"{DEV}/subscriptions/mlTrainingSubscription-dev-worker-2",
        "topic": f"{DEV}/topics/mlTrainingTopic-dev-worker-2",
        "ack_deadline_seconds": 300,
        "message_retention_duration": {"seconds": 604_800},
        "retry_policy": {"minimum_backoff": {"seconds": 10}, "maximum_backoff": {"seconds": 600}},
        "dead_letter_policy": {
            "dead_letter_topic": f"{DEV}/topics/mlTrainingTopic-dev-dead-letter",
            "max_delivery_attempts": 5,
        },
        "expiration_policy": {},
        "labels": LABELS,
    }
    # The emulator's limit, said once: Google's service keeps dead letters the 31 days asked.
    assert by_name["mlTrainingSubscription-dev-dead-letter"]["message_retention_duration"] == {
        "seconds": 604_800
    }
    assert plan.not_held == [
        f"{DEV}/subscriptions/mlTrainingSubscription-dev-dead-letter: message_retention_duration"
        " 2678400s held as 604800s, the emulator's most (Google's service keeps up to 31 days)",
        "IAM members (the emulator answers IAM calls with 501): 5 left out",
        "alerting policies (the emulator has no Cloud Monitoring): 2 left out",
    ]


def _with(stack: dict[str, Any], kind: str, index: int, **settings: Any) -> dict[str, Any]:
    changed = copy.deepcopy(stack)
    resource = list(changed["resource"][kind].values())[index]
    resource.update(settings)
    return changed


def test_ordering_exactly_once_and_a_ttl_are_carried(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    stack = _with(
        stack_json["dev"],
        "google_pubsub_subscription",
        2,
        enable_message_ordering=True,
        enable_exactly_once_delivery=True,
        expiration_policy={"ttl": "86400.5s"},
    )
    subscription = topology(stack).subscriptions[2]
    assert subscription["enable_message_ordering"] is True
    assert subscription["enable_exactly_once_delivery"] is True
    assert subscription["expiration_policy"] == {"ttl": {"seconds": 86_400, "nanos": 500_000_000}}


def test_a_kms_key_is_named_among_what_the_emulator_cannot_hold(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    key = "projects/p/locations/l/keyRings/r/cryptoKeys/k"
    plan = topology(_with(stack_json["dev"], "google_pubsub_topic", 0, kms_key_name=key))
    assert "kms_key_name" not in plan.topics[0]
    assert (
        plan.not_held.count(
            "KMS: topics are held without their kms_key_name (the emulator has no KMS)"
        )
        == 1
    )


@pytest.mark.parametrize(
    ("kind", "settings", "message"),
    [
        (
            "google_pubsub_subscription",
            {"filter": 'attributes.worker = "2"'},
            r"google_pubsub_subscription\.pubsub_task_topic_dead_letter_subscription_\w+\.filter"
            " cannot be loaded",
        ),
        ("google_pubsub_subscription", {"push_config": {}}, r"\.push_config cannot be loaded"),
        ("google_pubsub_topic", {"schema_settings": {}}, r"\.schema_settings cannot be loaded"),
        (
            "google_pubsub_subscription",
            {"topic": "${google_pubsub_schema.tasks.name}"},
            "refers to something not in Pub/Sub",
        ),
        (
            "google_pubsub_subscription",
            {"ack_deadline_seconds": 10, "message_retention_duration": "a week"},
            "'a week' is not a duration",
        ),
    ],
)
def test_a_setting_it_cannot_translate_is_an_error(
    stack_json: dict[str, dict[str, Any]], kind: str, settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(UntranslatableError, match=message):
        topology(_with(stack_json["dev"], kind, 0, **settings))


def test_a_google_resource_it_does_not_know_is_an_error(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    stack = copy.deepcopy(stack_json["dev"])
    stack["resource"]["google_pubsub_schema"] = {"tasks": {"name": "tasks"}}
    with pytest.raises(UntranslatableError, match="google_pubsub_schema cannot be loaded"):
        topology(stack)


def test_the_wiring_is_the_deployed_one(stack_json: dict[str, dict[str, Any]]) -> None:
    assert wiring(stack_json["dev"], "worker_2") == {
        "pubsub": {
            "subscription": f"{DEV}/subscriptions/mlTrainingSubscription-dev-worker-2",
            "shared_subscription": f"{DEV}/subscriptions/mlTrainingSubscription-dev",
        }
    }
    assert wiring(stack_json["dev"], "producer")["pubsub"]["worker_topics"] == [
        f"{DEV}/topics/mlTrainingTopic-dev-worker-{n}" for n in (1, 2, 3)
    ]
    with pytest.raises(UntranslatableError, match="no output worker_4; it has worker_1, worker_2"):
        wiring(stack_json["dev"], "worker_4")


def test_a_stack_without_pubsub_has_nothing_to_load(stack_json: dict[str, dict[str, Any]]) -> None:
    assert topology(stack_json["local"]).topics == []


def test_it_refuses_to_run_without_an_emulator(
    synth_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without PUBSUB_EMULATOR_HOST Google's client would reach Google's service."""
    monkeypatch.delenv(pubsub_emulator.EMULATOR_VARIABLE, raising=False)
    assert pubsub_emulator.main([str(synth_dir / "stacks" / "dev")]) == 2
    assert capsys.readouterr().err == (
        "error: PUBSUB_EMULATOR_HOST is not set; start the emulator and set it to its host:port"
        " (this loads an emulator only, never Google's service)\n"
    )


def test_it_names_the_stack_and_the_setting_it_cannot_load(
    tmp_path: Path,
    stack_json: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(pubsub_emulator.EMULATOR_VARIABLE, "127.0.0.1:1")
    stack = _with(stack_json["dev"], "google_pubsub_topic", 0, schema_settings={})
    (tmp_path / "cdk.tf.json").write_text(json.dumps(stack))
    assert pubsub_emulator.main([str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path}/cdk.tf.json: google_pubsub_topic.pubsub_task_topic_2D83A448"
        ".schema_settings cannot be loaded into the emulator\n"
    )


def test_an_emulator_that_is_not_there_is_one_line_at_once(
    synth_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without its own bound the client retries for ten minutes before it says so."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(pubsub_emulator.EMULATOR_VARIABLE, f"127.0.0.1:{port}")
    started = time.monotonic()
    assert pubsub_emulator.main([str(synth_dir / "stacks" / "dev")]) == 1
    assert time.monotonic() - started < 30
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: the emulator at 127.0.0.1:{port} did not take the load: 503")
