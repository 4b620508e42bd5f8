from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cdktf import TerraformOutput, TerraformStack, Testing

from constructs_lib.limits import LimitError
from constructs_lib.providers import GoogleProvider, PubsubSubscription, PubsubTopic
from constructs_lib.pubsub_task_topic import PubSubTaskTopic
from tests.synth_helpers import resources, synth


def _with_comments(stack: TerraformStack) -> dict[str, Any]:
    """The stack as the CLI writes it, `//` comments included (Testing.synth drops them)."""
    GoogleProvider(stack, "google")
    outdir = Path(Testing.full_synth(stack))
    result: dict[str, Any] = json.loads((outdir / "stacks" / "test" / "cdk.tf.json").read_text())
    return result


def _by_name(synthesized: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        body["name"]: {"id": resource_id, **body}
        for resource_id, body in synthesized["resource"][resource_type].items()
    }


def test_seed_names_without_dead_letters_are_one_topic_and_its_subscription(
    stack: TerraformStack,
) -> None:
    PubSubTaskTopic(stack, "tasks", dead_letter=False)
    synthesized = synth(stack)
    topics = _by_name(synthesized, PubsubTopic.TF_RESOURCE_TYPE)
    assert list(topics) == ["mlTrainingTopic"]
    [subscription] = resources(synthesized, PubsubSubscription.TF_RESOURCE_TYPE)
    assert subscription["name"] == "mlTrainingSubscription"
    assert (
        subscription["topic"] == f"${{google_pubsub_topic.{topics['mlTrainingTopic']['id']}.name}}"
    )
    assert "filter" not in subscription  # with no workers it takes every task
    assert Testing.to_have_resource_with_properties(
        Testing.synth(stack),
        PubsubSubscription.TF_RESOURCE_TYPE,
        {"name": "mlTrainingSubscription"},
    )


def test_task_subscriptions_never_expire_and_retry_with_backoff(stack: TerraformStack) -> None:
    PubSubTaskTopic(
        stack,
        "tasks",
        ack_deadline_seconds=600,
        message_retention_seconds=86_400,
        minimum_backoff_seconds=30,
        maximum_backoff_seconds=300,
    )
    subscriptions = _by_name(synth(stack), PubsubSubscription.TF_RESOURCE_TYPE)
    shared = subscriptions["mlTrainingSubscription"]
    assert shared["expiration_policy"] == {"ttl": ""}
    assert shared["ack_deadline_seconds"] == 600
    assert shared["message_retention_duration"] == "86400s"
    assert shared["retry_policy"] == {"minimum_backoff": "30s", "maximum_backoff": "300s"}
    assert "enable_exactly_once_delivery" not in shared
    assert "enable_message_ordering" not in shared


def test_one_filtered_subscription_per_worker_and_a_shared_one_for_any_worker(
    stack: TerraformStack,
) -> None:
    tasks = PubSubTaskTopic(stack, "tasks", workers=3)
    subscriptions = _by_name(synth(stack), PubsubSubscription.TF_RESOURCE_TYPE)
    filters = {name: body.get("filter") for name, body in subscriptions.items()}
    assert filters == {
        "mlTrainingSubscription": "NOT attributes:worker",
        "mlTrainingSubscription-worker-1": 'attributes.worker = "worker_1"',
        "mlTrainingSubscription-worker-2": 'attributes.worker = "worker_2"',
        "mlTrainingSubscription-worker-3": 'attributes.worker = "worker_3"',
        "mlTrainingSubscription-dead-letter": None,
    }
    assert tasks.worker_attribute(2) == ("worker", "worker_2")
    assert len(tasks.worker_subscription_names) == 3


def test_dead_letters_go_to_their_own_topic_and_are_kept(stack: TerraformStack) -> None:
    PubSubTaskTopic(stack, "tasks", workers=1, max_delivery_attempts=7)
    synthesized = synth(stack)
    topics = _by_name(synthesized, PubsubTopic.TF_RESOURCE_TYPE)
    dead_topic = topics["mlTrainingTopic-dead-letter"]
    assert dead_topic["message_retention_duration"] == "2678400s"
    subscriptions = _by_name(synthesized, PubsubSubscription.TF_RESOURCE_TYPE)
    kept = subscriptions["mlTrainingSubscription-dead-letter"]
    assert kept["topic"] == f"${{google_pubsub_topic.{dead_topic['id']}.name}}"
    assert "dead_letter_policy" not in kept
    for name in ("mlTrainingSubscription", "mlTrainingSubscription-worker-1"):
        assert subscriptions[name]["dead_letter_policy"] == {
            "dead_letter_topic": f"${{google_pubsub_topic.{dead_topic['id']}.id}}",
            "max_delivery_attempts": 7,
        }


def test_the_service_agent_may_move_dead_letters(stack: TerraformStack) -> None:
    PubSubTaskTopic(stack, "tasks", workers=2, project="ml-queues-dev")
    synthesized = synth(stack)
    [project] = synthesized["data"]["google_project"].values()
    assert project == {"project_id": "ml-queues-dev"}
    [project_id] = synthesized["data"]["google_project"]
    agent = (
        f"serviceAccount:service-${{data.google_project.{project_id}.number}}"
        "@gcp-sa-pubsub.iam.gserviceaccount.com"
    )
    [publisher] = resources(synthesized, "google_pubsub_topic_iam_member")
    assert (publisher["role"], publisher["member"]) == ("roles/pubsub.publisher", agent)
    assert "dead_letter_topic" in publisher["topic"]
    subscribers = resources(synthesized, "google_pubsub_subscription_iam_member")
    assert len(subscribers) == 3  # the shared subscription and one per worker
    assert {(s["role"], s["member"]) for s in subscribers} == {("roles/pubsub.subscriber", agent)}


def test_customer_managed_key_on_both_topics_after_the_agent_may_use_it(
    stack: TerraformStack,
) -> None:
    key = "projects/p/locations/us/keyRings/ml/cryptoKeys/tasks"
    PubSubTaskTopic(stack, "tasks", kms_key_name=key)
    synthesized = synth(stack)
    [grant] = synthesized["resource"]["google_kms_crypto_key_iam_member"].items()
    assert grant[1]["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    for topic in resources(synthesized, PubsubTopic.TF_RESOURCE_TYPE):
        assert topic["kms_key_name"] == key
        assert topic["depends_on"] == [f"google_kms_crypto_key_iam_member.{grant[0]}"]
    for topic in _with_comments(stack)["resource"][PubsubTopic.TF_RESOURCE_TYPE].values():
        assert "checkov_skip" not in topic["//"]


def test_without_a_customer_key_the_topics_say_why_the_cmek_check_does_not_apply(
    stack: TerraformStack,
) -> None:
    PubSubTaskTopic(stack, "tasks")
    topics = _with_comments(stack)["resource"][PubsubTopic.TF_RESOURCE_TYPE].values()
    assert len(topics) == 2
    for topic in topics:
        assert "Google-managed keys" in topic["//"]["checkov_skip"]["CKV_GCP_83"]


def test_options_and_protection(stack: TerraformStack) -> None:
    PubSubTaskTopic(
        stack, "tasks", exactly_once_delivery=True, message_ordering=True, prevent_destroy=True
    )
    synthesized = synth(stack)
    for subscription in resources(synthesized, PubsubSubscription.TF_RESOURCE_TYPE):
        assert subscription["lifecycle"] == {"prevent_destroy": True}
        if "dead-letter" not in subscription["name"]:
            assert subscription["enable_exactly_once_delivery"] is True
            assert subscription["enable_message_ordering"] is True
    for topic in resources(synthesized, PubsubTopic.TF_RESOURCE_TYPE):
        assert topic["lifecycle"] == {"prevent_destroy": True}


def test_grants_publish_on_the_topic_and_consume_on_one_subscription(
    stack: TerraformStack,
) -> None:
    tasks = PubSubTaskTopic(stack, "tasks", workers=2, dead_letter=False)
    tasks.grant_publish("producer", member="serviceAccount:p@x.iam.gserviceaccount.com")
    tasks.grant_consume("w2", member="serviceAccount:w2@x.iam.gserviceaccount.com", worker=2)
    tasks.grant_consume("any", member="serviceAccount:w1@x.iam.gserviceaccount.com", worker=None)
    synthesized = synth(stack)
    [publish] = resources(synthesized, "google_pubsub_topic_iam_member")
    assert publish["role"] == "roles/pubsub.publisher"
    subscriptions = {
        body["id"]: name
        for name, body in _by_name(synthesized, PubsubSubscription.TF_RESOURCE_TYPE).items()
    }
    consumers = {
        c["member"]: subscriptions[c["subscription"].split(".")[1]]
        for c in resources(synthesized, "google_pubsub_subscription_iam_member")
    }
    assert consumers == {
        "serviceAccount:w2@x.iam.gserviceaccount.com": "mlTrainingSubscription-worker-2",
        "serviceAccount:w1@x.iam.gserviceaccount.com": "mlTrainingSubscription",
    }
    with pytest.raises(LimitError, match="grant_consume worker = 3 is not allowed"):
        tasks.grant_consume("w3", member="serviceAccount:w3@x.iam.gserviceaccount.com", worker=3)


def _alerts(synthesized: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Alerting policies by the subscription their one condition watches, with its metric."""
    subscriptions = {
        resource_id: body["name"]
        for resource_id, body in synthesized["resource"]["google_pubsub_subscription"].items()
    }
    watched = {}
    for policy in resources(synthesized, "google_monitoring_alert_policy"):
        [condition] = policy["conditions"]
        threshold = condition["condition_threshold"]
        [resource_id] = [
            i for i in subscriptions if f"google_pubsub_subscription.{i}." in threshold["filter"]
        ]
        watched[subscriptions[resource_id]] = {**policy, "threshold": threshold}
    return watched


def test_alerts_on_each_task_subscription_s_oldest_task_and_on_dead_letters(
    stack: TerraformStack,
) -> None:
    channel = "projects/ml-queues-dev/notificationChannels/123"
    labels = {"environment": "dev"}
    PubSubTaskTopic(
        stack,
        "tasks",
        workers=2,
        oldest_message_alert_seconds=7200,
        alert_notification_channel=channel,
        labels=labels,
    )
    alerts = _alerts(synth(stack))
    assert set(alerts) == {
        "mlTrainingSubscription",
        "mlTrainingSubscription-worker-1",
        "mlTrainingSubscription-worker-2",
        "mlTrainingSubscription-dead-letter",
    }
    metric = "pubsub.googleapis.com/subscription/"
    for name, alert in alerts.items():
        threshold = alert["threshold"]
        assert threshold["filter"].startswith('resource.type = "pubsub_subscription" AND ')
        assert threshold["comparison"] == "COMPARISON_GT"
        assert threshold["aggregations"] == [
            {"alignment_period": "300s", "per_series_aligner": "ALIGN_MAX"}
        ]
        assert alert["display_name"].startswith(f"{name}: ")
        assert alert["notification_channels"] == [channel]
        assert alert["user_labels"] == labels
        if name.endswith("-dead-letter"):
            assert threshold["filter"].endswith(f'metric.type = "{metric}num_undelivered_messages"')
            assert threshold["threshold_value"] == 0
        else:
            assert threshold["filter"].endswith(
                f'metric.type = "{metric}oldest_unacked_message_age"'
            )
            assert threshold["threshold_value"] == 7200


def test_alerts_can_be_switched_off(stack: TerraformStack) -> None:
    PubSubTaskTopic(stack, "tasks", workers=2, alerts=False, oldest_message_alert_seconds=1)
    assert resources(synth(stack), "google_monitoring_alert_policy") == []


def test_without_a_channel_alerts_open_incidents_only(stack: TerraformStack) -> None:
    PubSubTaskTopic(stack, "tasks")
    for alert in _alerts(synth(stack)).values():
        assert "notification_channels" not in alert
        assert "user_labels" not in alert


def test_a_topic_needs_a_subscription(stack: TerraformStack) -> None:
    with pytest.raises(LimitError, match="a topic without subscriptions drops every task"):
        PubSubTaskTopic(stack, "tasks", shared_subscription=False)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("ack_deadline_seconds", 9, "an integer from 10 to 600"),
        ("ack_deadline_seconds", 601, "an integer from 10 to 600"),
        ("message_retention_seconds", 599, "an integer from 600 to 2678400"),
        ("message_retention_seconds", 2_678_401, "an integer from 600 to 2678400"),
        ("max_delivery_attempts", 4, "an integer from 5 to 100"),
        ("max_delivery_attempts", 101, "an integer from 5 to 100"),
        ("minimum_backoff_seconds", 601, "an integer from 0 to 600"),
        ("maximum_backoff_seconds", 5, "an integer from 10 to 600"),
        ("kms_key_name", "tasks-key", "a Cloud KMS key name"),
        ("workers", -1, "an integer >= 0"),
        (
            "oldest_message_alert_seconds (at most the subscriptions' retention)",
            59,
            "an integer from 60 to 604800",
        ),
        ("alert_notification_channel", "ops-pager", "a Cloud Monitoring notification channel"),
    ],
)
def test_rejects_values_pubsub_would_refuse(
    stack: TerraformStack, field: str, value: object, allowed: str
) -> None:
    arguments: dict[str, Any] = {field.split(" ", maxsplit=1)[0]: value}
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(stack, "tasks", **arguments)
    assert str(error.value).startswith(
        f"environment 'test': PubSubTaskTopic.{field} = {value!r} is not allowed;"
        f" expected {allowed}"
    )


def test_exposes_topic_and_subscription_names(stack: TerraformStack) -> None:
    tasks = PubSubTaskTopic(stack, "tasks", topic_name="t-dev", subscription_name="s-dev")
    TerraformOutput(stack, "topic", value=tasks.topic_name)
    TerraformOutput(stack, "subscription", value=tasks.subscription_name)
    outputs = synth(stack)["output"]
    assert outputs["topic"]["value"].startswith("${google_pubsub_topic.")
    assert outputs["subscription"]["value"].startswith("${google_pubsub_subscription.")


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("topic_name", "ab"),
        ("topic_name", "1starts-with-digit"),
        ("topic_name", "googTopic"),
        ("topic_name", "a" * 256),
        ("subscription_name", "has space"),
        ("subscription_name", "slash/name"),
    ],
)
def test_rejects_names_pubsub_would_refuse(stack: TerraformStack, field: str, name: str) -> None:
    arguments: dict[str, Any] = {field: name}
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(stack, "tasks", **arguments)
    message = str(error.value)
    assert message.startswith(f"environment 'test': PubSubTaskTopic.{field} = {name!r}")
    assert "3 to 255 characters, starting with a letter" in message


def test_accepts_every_character_pubsub_allows(stack: TerraformStack) -> None:
    PubSubTaskTopic(
        stack, "tasks", topic_name="a-_.~+%9", subscription_name="Z" * 255, dead_letter=False
    )
