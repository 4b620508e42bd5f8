from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cdktf import Aspects, TerraformOutput, TerraformStack, TerraformVariable, Testing

from constructs_lib.aspects import CommonLabels, PreventDestroy
from constructs_lib.channel import TaskChannel
from constructs_lib.limits import LimitError
from constructs_lib.providers import (
    GoogleProvider,
    PubsubSubscription,
    PubsubSubscriptionIamMember,
    PubsubTopic,
    PubsubTopicIamMember,
)
from constructs_lib.pubsub.backend import PubSubProducerWiring, PubSubWorkerWiring
from constructs_lib.pubsub.props import PubSubTaskTopicProps
from constructs_lib.pubsub.topic import PubSubTaskTopic
from tests.constructs_lib.lifecycle_helpers import name_of, target, triggers
from tests.synth_helpers import resources, synth

PROJECT = "ml-queues-dev"
NAME_RULE = (
    "3 to 255 characters, starting with a letter, then letters, digits and - _ . ~ + %;"
    " not starting with 'goog'"
)
PRODUCER = "serviceAccount:p@x.iam.gserviceaccount.com"
CHANNEL = "projects/ml-queues-dev/notificationChannels/123"
# Every kind of topic there is, with two workers and the defaults.
ALL_TOPICS = {
    "mlTrainingTopic",
    "mlTrainingTopic-worker-1",
    "mlTrainingTopic-worker-2",
    "mlTrainingTopic-dead-letter",
}


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


def _resolved(stack: TerraformStack, values: dict[str, object]) -> dict[str, Any]:
    """What tokens stand for: every read of an attribute is a new token, so two references
    are only comparable once synthesized."""
    for name, value in values.items():
        TerraformOutput(stack, name, value=value)
    return {name: output["value"] for name, output in synth(stack)["output"].items()}


def _names_by_reference(synthesized: dict[str, Any], attribute: str) -> dict[str, str]:
    """`${type.logical_id.<attribute>}` -> the name of the topic or subscription it reaches."""
    return {
        f"${{{resource_type}.{resource_id}.{attribute}}}": body["name"]
        for resource_type in (PubsubTopic.TF_RESOURCE_TYPE, PubsubSubscription.TF_RESOURCE_TYPE)
        for resource_id, body in synthesized["resource"][resource_type].items()
    }


def _topic_of_each_subscription(synthesized: dict[str, Any]) -> dict[str, str]:
    """Subscription name -> name of the topic it is on. Routing is by topic alone: a filter
    would let a subscription acknowledge and lose what it does not match, so none has one."""
    topics = {
        f"${{{PubsubTopic.TF_RESOURCE_TYPE}.{resource_id}.name}}": body["name"]
        for resource_id, body in synthesized["resource"][PubsubTopic.TF_RESOURCE_TYPE].items()
    }
    on = {}
    for subscription in resources(synthesized, PubsubSubscription.TF_RESOURCE_TYPE):
        assert "filter" not in subscription, subscription["name"]
        on[subscription["name"]] = topics[subscription["topic"]]
    return on


def test_seed_names_without_dead_letters_are_one_topic_and_its_subscription(
    stack: TerraformStack,
) -> None:
    PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, dead_letter=False))
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
        PubSubTaskTopicProps(
            project=PROJECT,
            ack_deadline_seconds=600,
            message_retention_seconds=86_400,
            minimum_backoff_seconds=30,
            maximum_backoff_seconds=300,
        ),
    )
    subscriptions = _by_name(synth(stack), PubsubSubscription.TF_RESOURCE_TYPE)
    shared = subscriptions["mlTrainingSubscription"]
    assert shared["expiration_policy"] == {"ttl": ""}
    assert shared["ack_deadline_seconds"] == 600
    assert shared["message_retention_duration"] == "86400s"
    assert shared["retry_policy"] == {"minimum_backoff": "30s", "maximum_backoff": "300s"}
    assert "enable_exactly_once_delivery" not in shared
    assert "enable_message_ordering" not in shared


def test_one_topic_per_worker_and_a_shared_one_for_any_worker(stack: TerraformStack) -> None:
    """Each worker's topic has its subscription and nothing else on it: a task published
    there is delivered, and billed, once, and a worker that does not exist has no topic."""
    tasks = PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=3))
    synthesized = synth(stack)
    topics = _by_name(synthesized, PubsubTopic.TF_RESOURCE_TYPE)
    assert set(topics) == {
        "mlTrainingTopic",
        "mlTrainingTopic-worker-1",
        "mlTrainingTopic-worker-2",
        "mlTrainingTopic-worker-3",
        "mlTrainingTopic-dead-letter",
    }
    assert _topic_of_each_subscription(synthesized) == {
        "mlTrainingSubscription": "mlTrainingTopic",
        "mlTrainingSubscription-worker-1": "mlTrainingTopic-worker-1",
        "mlTrainingSubscription-worker-2": "mlTrainingTopic-worker-2",
        "mlTrainingSubscription-worker-3": "mlTrainingTopic-worker-3",
        "mlTrainingSubscription-dead-letter": "mlTrainingTopic-dead-letter",
    }
    for n in (1, 2, 3):
        topic = tasks.node.find_child(f"worker_{n}_topic")
        assert isinstance(topic, PubsubTopic)
        assert topics[f"mlTrainingTopic-worker-{n}"]["id"] == stack.get_logical_id(topic)
    assert len(tasks.worker_addresses) == 3


def test_dead_letters_go_to_their_own_topic_and_are_kept(stack: TerraformStack) -> None:
    PubSubTaskTopic(
        stack,
        "tasks",
        PubSubTaskTopicProps(project=PROJECT, workers=1, max_delivery_attempts=7),
    )
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


def _agent(synthesized: dict[str, Any]) -> str:
    """The IAM member of the project's Pub/Sub service agent, which moves dead letters."""
    [project_id] = synthesized["data"]["google_project"]
    return (
        f"serviceAccount:service-${{data.google_project.{project_id}.number}}"
        "@gcp-sa-pubsub.iam.gserviceaccount.com"
    )


def test_the_service_agent_may_move_dead_letters(stack: TerraformStack) -> None:
    PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=2))
    synthesized = synth(stack)
    [project] = synthesized["data"]["google_project"].values()
    assert project == {"project_id": PROJECT}
    agent = _agent(synthesized)
    [publisher] = resources(synthesized, "google_pubsub_topic_iam_member")
    assert (publisher["role"], publisher["member"]) == ("roles/pubsub.publisher", agent)
    assert "dead_letter_topic" in publisher["topic"]
    subscribers = resources(synthesized, "google_pubsub_subscription_iam_member")
    assert len(subscribers) == 3  # the shared subscription and one per worker
    assert {(s["role"], s["member"]) for s in subscribers} == {("roles/pubsub.subscriber", agent)}


def test_customer_managed_key_on_every_topic_after_the_agent_may_use_it(
    stack: TerraformStack,
) -> None:
    key = "projects/p/locations/us/keyRings/ml/cryptoKeys/tasks"
    PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=2, kms_key=key))
    synthesized = synth(stack)
    [grant] = synthesized["resource"]["google_kms_crypto_key_iam_member"].items()
    assert grant[1]["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    topics = resources(synthesized, PubsubTopic.TF_RESOURCE_TYPE)
    assert {topic["name"] for topic in topics} == ALL_TOPICS
    for topic in topics:
        assert topic["kms_key_name"] == key
        assert topic["depends_on"] == [f"google_kms_crypto_key_iam_member.{grant[0]}"]
    for topic in _with_comments(stack)["resource"][PubsubTopic.TF_RESOURCE_TYPE].values():
        assert "checkov_skip" not in topic["//"]


def test_without_a_customer_key_the_topics_say_why_the_cmek_check_does_not_apply(
    stack: TerraformStack,
) -> None:
    PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=2))
    topics = _with_comments(stack)["resource"][PubsubTopic.TF_RESOURCE_TYPE].values()
    assert {topic["name"] for topic in topics} == ALL_TOPICS
    for topic in topics:
        assert "Google-managed keys" in topic["//"]["checkov_skip"]["CKV_GCP_83"]


def test_delivery_options_on_the_task_subscriptions_only(stack: TerraformStack) -> None:
    PubSubTaskTopic(
        stack,
        "tasks",
        PubSubTaskTopicProps(
            project=PROJECT, workers=1, exactly_once_delivery=True, message_ordering=True
        ),
    )
    subscriptions = _by_name(synth(stack), PubsubSubscription.TF_RESOURCE_TYPE)
    assert len(subscriptions) == 3
    for name, subscription in subscriptions.items():
        options = {
            key: subscription.get(key)
            for key in ("enable_exactly_once_delivery", "enable_message_ordering")
        }
        if name.endswith("-dead-letter"):
            assert options == dict.fromkeys(options)
        else:
            assert options == dict.fromkeys(options, True)


def test_prevent_destroy_protects_every_topic_and_subscription(stack: TerraformStack) -> None:
    tasks = PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=1))
    tasks.grant_publish(PRODUCER)
    tasks.grant_consume("serviceAccount:w1@x.iam.gserviceaccount.com", 1)
    Aspects.of(stack).add(PreventDestroy())
    synthesized = synth(stack)
    subscriptions = resources(synthesized, PubsubSubscription.TF_RESOURCE_TYPE)
    topics = resources(synthesized, PubsubTopic.TF_RESOURCE_TYPE)
    assert (len(subscriptions), len(topics)) == (3, 3)
    for topic in topics:
        assert topic["lifecycle"] == {"prevent_destroy": True}
    # Protected, and still replaced with their topic: Terraform refuses that plan instead.
    for subscription in subscriptions:
        topic_type, topic_id = target(subscription["topic"])
        assert subscription["lifecycle"] == {
            "prevent_destroy": True,
            "replace_triggered_by": [f"{topic_type}.{topic_id}.id"],
        }
    # IAM members hold no tasks: Terraform may still replace them, and does with what they
    # grant on.
    for resource_type, argument in (
        ("google_pubsub_topic_iam_member", "topic"),
        ("google_pubsub_subscription_iam_member", "subscription"),
    ):
        members = resources(synthesized, resource_type)
        assert members
        for member in members:
            assert triggers(member) == [target(member[argument])]
    # Nor do alerting policies; they watch a subscription by name, which a replacement keeps.
    alerts = resources(synthesized, "google_monitoring_alert_policy")
    assert alerts
    assert all("lifecycle" not in alert for alert in alerts)


def _consumers(stack: TerraformStack, tasks: PubSubTaskTopic) -> dict[str, tuple[str, str]]:
    """Subscriber grants by the id the construct gave them (logical ids are hashed), each as
    (member, name of the subscription granted)."""
    synthesized = synth(stack)
    names = _names_by_reference(synthesized, "name")
    grants = synthesized["resource"].get("google_pubsub_subscription_iam_member", {})
    consumers = {}
    for child in tasks.node.children:
        if isinstance(child, PubsubSubscriptionIamMember):
            grant = grants[stack.get_logical_id(child)]
            assert grant["role"] == "roles/pubsub.subscriber"
            consumers[child.node.id] = (grant["member"], names[grant["subscription"]])
    return consumers


def _publishers(stack: TerraformStack, tasks: PubSubTaskTopic) -> dict[str, tuple[str, str]]:
    """Publisher grants by the id the construct gave them, each as (member, name of the
    topic granted)."""
    synthesized = synth(stack)
    names = _names_by_reference(synthesized, "name")
    grants = synthesized["resource"].get(PubsubTopicIamMember.TF_RESOURCE_TYPE, {})
    publishers = {}
    for child in tasks.node.children:
        if isinstance(child, PubsubTopicIamMember):
            grant = grants[stack.get_logical_id(child)]
            assert grant["role"] == "roles/pubsub.publisher"
            publishers[child.node.id] = (grant["member"], names[grant["topic"]])
    assert len(publishers) == len(grants)  # no grant on a topic escapes the comparison
    return publishers


def test_grants_publish_on_every_topic_and_consume_on_a_worker_s_and_the_shared_subscription(
    stack: TerraformStack,
) -> None:
    tasks = PubSubTaskTopic(
        stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=2, dead_letter=False)
    )
    tasks.grant_publish(PRODUCER)
    tasks.grant_consume("serviceAccount:w2@x.iam.gserviceaccount.com", 2)
    with pytest.raises(LimitError) as error:
        tasks.grant_consume("serviceAccount:w3@x.iam.gserviceaccount.com", 3)
    assert str(error.value) == (
        "test/tasks: PubSubTaskTopic.grant_consume worker = 3 is not allowed;"
        " expected an integer from 1 to 2"
    )
    assert _publishers(stack, tasks) == {
        "pubsub_producer_grant": (PRODUCER, "mlTrainingTopic"),
        "pubsub_worker_1_producer_grant": (PRODUCER, "mlTrainingTopic-worker-1"),
        "pubsub_worker_2_producer_grant": (PRODUCER, "mlTrainingTopic-worker-2"),
    }
    # The refused worker got nothing, not even the shared subscription.
    assert _consumers(stack, tasks) == {
        "pubsub_worker_2_grant": (
            "serviceAccount:w2@x.iam.gserviceaccount.com",
            "mlTrainingSubscription-worker-2",
        ),
        "pubsub_shared_worker_2_grant": (
            "serviceAccount:w2@x.iam.gserviceaccount.com",
            "mlTrainingSubscription",
        ),
    }


def test_without_a_shared_subscription_workers_take_only_their_own_tasks(
    stack: TerraformStack,
) -> None:
    tasks = PubSubTaskTopic(
        stack,
        "tasks",
        PubSubTaskTopicProps(project=PROJECT, workers=2, shared=False, dead_letter=False),
    )
    tasks.grant_consume("serviceAccount:w1@x.iam.gserviceaccount.com", 1)
    assert tasks.shared_address is None
    assert tasks.worker_wiring(1).shared_subscription is None
    assert [output.id for output in tasks.outputs()] == [
        "pubsub_worker_topic_names",
        "pubsub_worker_subscription_names",
    ]
    assert _topic_of_each_subscription(synth(stack)) == {
        "mlTrainingSubscription-worker-1": "mlTrainingTopic-worker-1",
        "mlTrainingSubscription-worker-2": "mlTrainingTopic-worker-2",
    }
    assert _consumers(stack, tasks) == {
        "pubsub_worker_1_grant": (
            "serviceAccount:w1@x.iam.gserviceaccount.com",
            "mlTrainingSubscription-worker-1",
        ),
    }


def test_without_a_shared_subscription_there_is_no_shared_topic(stack: TerraformStack) -> None:
    """A topic without a subscription drops what is published to it: a producer must get
    NOT_FOUND there instead, and has nothing to publish to but the workers' topics."""
    tasks = PubSubTaskTopic(
        stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=2, shared=False)
    )
    tasks.grant_publish(PRODUCER)
    assert tasks.topic_path is None
    assert tasks.node.try_find_child("topic") is None
    assert tasks.node.try_find_child("pubsub_producer_grant") is None
    synthesized = synth(stack)
    assert set(_by_name(synthesized, PubsubTopic.TF_RESOURCE_TYPE)) == {
        "mlTrainingTopic-worker-1",
        "mlTrainingTopic-worker-2",
        "mlTrainingTopic-dead-letter",
    }
    assert _topic_of_each_subscription(synthesized) == {
        "mlTrainingSubscription-worker-1": "mlTrainingTopic-worker-1",
        "mlTrainingSubscription-worker-2": "mlTrainingTopic-worker-2",
        "mlTrainingSubscription-dead-letter": "mlTrainingTopic-dead-letter",
    }
    # The producer publishes to each worker's topic and nowhere else, not to dead letters.
    assert _publishers(stack, tasks) == {
        "dead_letter_publisher": (_agent(synthesized), "mlTrainingTopic-dead-letter"),
        "pubsub_worker_1_producer_grant": (PRODUCER, "mlTrainingTopic-worker-1"),
        "pubsub_worker_2_producer_grant": (PRODUCER, "mlTrainingTopic-worker-2"),
    }
    topic = PubsubTopic.TF_RESOURCE_TYPE
    replaced = _replaced_with(stack, tasks)
    assert {grant: replaced[grant] for grant in replaced if grant.endswith("_producer_grant")} == {
        "pubsub_worker_1_producer_grant": (topic, "mlTrainingTopic-worker-1"),
        "pubsub_worker_2_producer_grant": (topic, "mlTrainingTopic-worker-2"),
    }


@pytest.mark.parametrize("worker", [0, 3, -1])
def test_a_worker_outside_the_count_has_no_wiring(stack: TerraformStack, worker: int) -> None:
    tasks = PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=2))
    with pytest.raises(LimitError) as error:
        tasks.worker_wiring(worker)
    assert str(error.value) == (
        f"test/tasks: PubSubTaskTopic.worker_wiring worker = {worker} is not allowed;"
        " expected an integer from 1 to 2"
    )


def test_addresses_are_subscription_and_topic_paths_in_worker_order(
    stack: TerraformStack,
) -> None:
    tasks = PubSubTaskTopic(
        stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=3, topic_name="t-dev")
    )
    values = _resolved(
        stack,
        {
            "workers": tasks.worker_addresses,
            "shared": tasks.shared_address,
            "topic": tasks.topic_path,
            "worker_topics": tasks.worker_topic_paths,
        },
    )
    paths = _names_by_reference(synth(stack), "id")
    assert [paths[address] for address in values["workers"]] == [
        f"mlTrainingSubscription-worker-{n}" for n in (1, 2, 3)
    ]
    assert paths[values["shared"]] == "mlTrainingSubscription"
    assert paths[values["topic"]] == "t-dev"
    assert [paths[path] for path in values["worker_topics"]] == [
        f"t-dev-worker-{n}" for n in (1, 2, 3)
    ]


def test_the_wiring_addresses_each_worker_s_topic_and_subscription(
    stack: TerraformStack,
) -> None:
    tasks = PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=2))
    producer = tasks.producer_wiring()
    assert isinstance(producer, PubSubProducerWiring)
    workers = [tasks.worker_wiring(n) for n in (1, 2)]
    for wiring in workers:
        assert isinstance(wiring, PubSubWorkerWiring)
    values = _resolved(
        stack,
        {
            "producer": producer.output(),
            "own_topics": tasks.worker_topic_paths,
            **{f"worker_{n}": wiring.output() for n, wiring in enumerate(workers, start=1)},
        },
    )
    synthesized = synth(stack)
    paths = _names_by_reference(synthesized, "id")
    topic_of = _topic_of_each_subscription(synthesized)
    assert set(values["producer"]) == {"topic", "worker_topics"}
    assert paths[values["producer"]["topic"]] == "mlTrainingTopic"
    assert values["producer"]["worker_topics"] == values["own_topics"]
    for n in (1, 2):
        worker = values[f"worker_{n}"]
        assert set(worker) == {"subscription", "shared_subscription"}
        assert (paths[worker["subscription"]], paths[worker["shared_subscription"]]) == (
            f"mlTrainingSubscription-worker-{n}",
            "mlTrainingSubscription",
        )
        # Where the producer publishes worker n's tasks is exactly what its subscription is on.
        assert (
            paths[values["producer"]["worker_topics"][n - 1]]
            == (topic_of[paths[worker["subscription"]]])
        )
        assert topic_of[paths[worker["shared_subscription"]]] == paths[values["producer"]["topic"]]


def test_without_a_shared_topic_the_producer_is_wired_to_the_workers_topics_only(
    stack: TerraformStack,
) -> None:
    """No shared topic is no topic value at all: `make worker-env` then leaves the variable
    out, and a producer cannot publish to a topic nobody reads."""
    tasks = PubSubTaskTopic(
        stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=2, shared=False)
    )
    producer = tasks.producer_wiring().output()
    assert producer["topic"] is None
    values = _resolved(stack, {"worker_topics": producer["worker_topics"]})
    paths = _names_by_reference(synth(stack), "id")
    assert [paths[path] for path in values["worker_topics"]] == [
        "mlTrainingTopic-worker-1",
        "mlTrainingTopic-worker-2",
    ]
    assert tasks.worker_wiring(2).output()["shared_subscription"] is None


def test_outputs_name_the_topic_the_shared_and_each_worker_s_subscription(
    stack: TerraformStack,
) -> None:
    tasks = PubSubTaskTopic(
        stack,
        "tasks",
        PubSubTaskTopicProps(
            project=PROJECT, workers=2, topic_name="t-dev", subscription_name="s-dev"
        ),
    )
    outputs = tasks.outputs()
    assert {output.id: output.description for output in outputs} == {
        "ml_training_topic_name": "name of the shared task topic",
        "ml_training_subscription_name": (
            "name of the shared subscription, for tasks any worker may take"
        ),
        "pubsub_worker_topic_names": (
            "name of each worker's topic, worker 1 first: publish there to reach it"
        ),
        "pubsub_worker_subscription_names": (
            "name of each worker's own subscription, worker 1 first"
        ),
    }
    values = _resolved(stack, {output.id: output.value for output in outputs})
    names = _names_by_reference(synth(stack), "name")
    assert names[values["ml_training_topic_name"]] == "t-dev"
    assert names[values["ml_training_subscription_name"]] == "s-dev"
    assert [names[name] for name in values["pubsub_worker_topic_names"]] == [
        "t-dev-worker-1",
        "t-dev-worker-2",
    ]
    assert [names[name] for name in values["pubsub_worker_subscription_names"]] == [
        "s-dev-worker-1",
        "s-dev-worker-2",
    ]


def test_the_stack_can_drive_it_as_a_task_channel(stack: TerraformStack) -> None:
    """The stack only knows `TaskChannel`: granting and wiring through it must reach the
    same subscriptions as the construct's own members."""
    channel: TaskChannel = PubSubTaskTopic(
        stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=1, dead_letter=False)
    )
    channel.grant_publish(PRODUCER)
    channel.grant_consume("serviceAccount:w1@x.iam.gserviceaccount.com", 1)
    values = _resolved(
        stack, {"own": channel.worker_addresses[0], "wired": channel.worker_wiring(1).output()}
    )
    assert values["wired"]["subscription"] == values["own"]
    synthesized = synth(stack)
    assert len(resources(synthesized, "google_pubsub_subscription_iam_member")) == 2
    assert len(resources(synthesized, "google_pubsub_topic_iam_member")) == 2


def _alerts(synthesized: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Alerting policies by what their one condition watches: a subscription's name, or
    `regex:<pattern>` for the policy over every task subscription."""
    subscriptions = {
        resource_id: body["name"]
        for resource_id, body in synthesized["resource"]["google_pubsub_subscription"].items()
    }
    watched = {}
    for policy in resources(synthesized, "google_monitoring_alert_policy"):
        [condition] = policy["conditions"]
        threshold = condition["condition_threshold"]
        pattern = re.search(r'monitoring\.regex\.full_match\("([^"]+)"\)', threshold["filter"])
        if pattern is not None:
            watched[f"regex:{pattern[1]}"] = {**policy, "threshold": threshold}
            continue
        [resource_id] = [
            i for i in subscriptions if f"google_pubsub_subscription.{i}." in threshold["filter"]
        ]
        watched[subscriptions[resource_id]] = {**policy, "threshold": threshold}
    return watched


def test_one_alert_watches_every_task_subscription_and_one_the_dead_letters(
    stack: TerraformStack,
) -> None:
    """One policy per environment, not one per subscription: its condition keeps a series
    per subscription (no cross-series reducer), so an incident names the one at fault."""
    channel = "projects/ml-queues-dev/notificationChannels/123"
    labels = {"environment": "dev"}
    PubSubTaskTopic(
        stack,
        "tasks",
        PubSubTaskTopicProps(
            project=PROJECT,
            workers=2,
            oldest_message_alarm_seconds=7200,
            alarm_target=channel,
        ),
    )
    Aspects.of(stack).add(CommonLabels(labels))
    alerts = _alerts(synth(stack))
    assert set(alerts) == {
        "regex:mlTrainingSubscription(-worker-[0-9]+)?",
        "mlTrainingSubscription-dead-letter",
    }
    tasks = alerts["regex:mlTrainingSubscription(-worker-[0-9]+)?"]
    for name in ("mlTrainingSubscription", "mlTrainingSubscription-worker-2"):
        assert re.fullmatch("mlTrainingSubscription(-worker-[0-9]+)?", name)
    assert not re.fullmatch(
        "mlTrainingSubscription(-worker-[0-9]+)?", "mlTrainingSubscription-dead-letter"
    )
    assert tasks["display_name"] == (
        "mlTrainingSubscription, mlTrainingSubscription-worker-*: a task waited over 7200 s"
    )
    metric = "pubsub.googleapis.com/subscription/"
    for name, alert in alerts.items():
        threshold = alert["threshold"]
        assert threshold["filter"].startswith('resource.type = "pubsub_subscription" AND ')
        assert threshold["comparison"] == "COMPARISON_GT"
        assert threshold["aggregations"] == [
            {"alignment_period": "300s", "per_series_aligner": "ALIGN_MAX"}
        ]
        assert alert["display_name"].startswith(name.removeprefix("regex:").split("(")[0])
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
    """Switched off, an age the alarm could never reach is no reason to refuse the topic."""
    PubSubTaskTopic(
        stack,
        "tasks",
        PubSubTaskTopicProps(
            project=PROJECT,
            workers=2,
            alarms=False,
            message_retention_seconds=3600,
            oldest_message_alarm_seconds=7200,
        ),
    )
    assert resources(synth(stack), "google_monitoring_alert_policy") == []


def test_without_a_channel_alerts_open_incidents_only(stack: TerraformStack) -> None:
    PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT))
    alerts = _alerts(synth(stack))
    assert len(alerts) == 2
    for alert in alerts.values():
        assert "notification_channels" not in alert
        assert "user_labels" not in alert


@pytest.mark.parametrize(
    ("alarm_target", "channels"),
    [(None, {}), ("none", {}), (CHANNEL, {"notification_channels": [CHANNEL]})],
)
def test_alerts_notify_the_channel_given_and_nothing_when_told_none(
    stack: TerraformStack, alarm_target: str | None, channels: dict[str, list[str]]
) -> None:
    """`none` says on purpose that alerts open incidents only; it must not reach Cloud
    Monitoring as a channel."""
    PubSubTaskTopic(
        stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=1, alarm_target=alarm_target)
    )
    alerts = _alerts(synth(stack))
    assert len(alerts) == 2
    for name, alert in alerts.items():
        given = {key: value for key, value in alert.items() if key == "notification_channels"}
        assert given == channels, name


@pytest.mark.parametrize(
    "alarm_target", ["ops-pager", "None", "none ", f"none,{CHANNEL}", "projects/p/topics/t", ""]
)
def test_rejects_an_alarm_target_that_is_neither_a_channel_nor_none(
    stack: TerraformStack, alarm_target: str
) -> None:
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(
            stack, "tasks", PubSubTaskTopicProps(project=PROJECT, alarm_target=alarm_target)
        )
    assert str(error.value) == (
        f"test/tasks: PubSubTaskTopic.alarm_target = {alarm_target!r} is not allowed;"
        " expected a Cloud Monitoring notification channel: 'projects/P/notificationChannels/ID',"
        " 'own' for a channel the stack creates, or 'none' for alerts without notifications"
    )


def test_an_alarm_age_beyond_the_retention_could_never_fire(stack: TerraformStack) -> None:
    PubSubTaskTopic(
        stack,
        "as_long",
        PubSubTaskTopicProps(
            project=PROJECT,
            topic_name="t-as-long",
            subscription_name="s-as-long",
            message_retention_seconds=3600,
            oldest_message_alarm_seconds=3600,
        ),
    )
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(
            stack,
            "tasks",
            PubSubTaskTopicProps(
                project=PROJECT, message_retention_seconds=3600, oldest_message_alarm_seconds=3601
            ),
        )
    assert str(error.value) == (
        "test/tasks: PubSubTaskTopic.oldest_message_alarm_seconds = 3601 is not allowed;"
        " expected at most message_retention_seconds = 3600: no task waits longer, so the alarm"
        " could never fire"
    )


def test_a_failing_task_reaches_the_dead_letter_topic_before_it_expires(
    stack: TerraformStack,
) -> None:
    fits = PubSubTaskTopicProps(
        project=PROJECT,
        message_retention_seconds=3600,
        oldest_message_alarm_seconds=3600,
        ack_deadline_seconds=60,
        max_delivery_attempts=6,
    )
    PubSubTaskTopic(stack, "fits", fits)
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(stack, "tasks", replace(fits, max_delivery_attempts=7))
    assert str(error.value) == (
        "test/tasks: PubSubTaskTopic.max_delivery_attempts = 7 is not allowed; expected"
        " at most 6: 7 attempts x ack_deadline_seconds 60 (max_task_duration_seconds) + 6 x"
        " maximum_backoff_seconds 600 = 4020 s is not below message_retention_seconds = 3600,"
        " so a failing task could expire before Pub/Sub forwards it to the dead-letter topic"
    )
    PubSubTaskTopic(stack, "without", replace(fits, max_delivery_attempts=7, dead_letter=False))


def test_a_topic_needs_a_subscription(stack: TerraformStack) -> None:
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, shared=False))
    assert str(error.value) == (
        "test/tasks: PubSubTaskTopic.shared = false is not allowed;"
        " expected true with workers = 0: a topic without subscriptions drops every task"
    )


@pytest.mark.parametrize(("minimum", "maximum"), [(10, 5), (30, 29)])
def test_the_maximum_backoff_is_at_least_the_minimum(
    stack: TerraformStack, minimum: int, maximum: int
) -> None:
    PubSubTaskTopic(
        stack,
        "equal",
        PubSubTaskTopicProps(
            project=PROJECT,
            topic_name="t-equal",
            subscription_name="s-equal",
            minimum_backoff_seconds=minimum,
            maximum_backoff_seconds=minimum,
        ),
    )
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(
            stack,
            "tasks",
            PubSubTaskTopicProps(
                project=PROJECT, minimum_backoff_seconds=minimum, maximum_backoff_seconds=maximum
            ),
        )
    assert str(error.value) == (
        f"test/tasks: PubSubTaskTopic.maximum_backoff_seconds = {maximum} is not"
        f" allowed; expected at least minimum_backoff_seconds = {minimum}"
    )


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
        ("maximum_backoff_seconds", 601, "an integer from 0 to 600"),
        ("kms_key", "tasks-key", "a Cloud KMS key name: 'projects/P/locations/L/keyRings/R/"),
        ("workers", -1, "an integer from 0 to 1000"),
        ("workers", 1001, "an integer from 0 to 1000 (the reach this design is measured for;"),
        ("oldest_message_alarm_seconds", 59, "an integer from 60 to 2678400"),
        ("project", "ML_Queues", "a Google Cloud project ID: 6 to 30 lowercase letters"),
        ("region", "europe", "a Google Cloud region such as 'europe-west1'"),
        ("producer", "producer@x.iam.gserviceaccount.com", "an IAM member such as"),
        ("worker_template", PRODUCER, "an IAM member containing '{worker}'"),
    ],
)
def test_rejects_values_pubsub_would_refuse(
    stack: TerraformStack, field: str, value: object, allowed: str
) -> None:
    settings: dict[str, Any] = {"project": PROJECT, field: value}
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(**settings))
    message = str(error.value)
    assert message.startswith(
        f"test/tasks: PubSubTaskTopic.{field} = {value!r} is not allowed; expected {allowed}"
    )
    # The reason for the upper bound, only when that is the bound broken.
    assert ("(the reach" in message) == ("(the reach" in allowed)


def test_rejects_a_bool_where_a_number_belongs(stack: TerraformStack) -> None:
    """TOML's `true` for a count is a typo, though Python's bool is an int."""
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=True))
    assert str(error.value) == (
        "test/tasks: PubSubTaskTopic.workers = true is not allowed;"
        " expected an integer from 0 to 1000"
    )


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
    settings: dict[str, Any] = {"project": PROJECT, field: name}
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(**settings))
    assert str(error.value) == (
        f"test/tasks: PubSubTaskTopic.{field} = {name!r} is not allowed; expected {NAME_RULE}"
    )


@pytest.mark.parametrize(
    ("settings", "too_long"),
    [
        ({}, "-dead-letter"),
        ({"workers": 1, "dead_letter": False}, "-worker-1"),
        ({"workers": 10, "dead_letter": False}, "-worker-10"),
        ({"workers": 2, "shared": False, "dead_letter": False}, "-worker-2"),
    ],
)
def test_every_topic_name_made_from_the_shared_one_must_fit(
    stack: TerraformStack, settings: dict[str, Any], too_long: str
) -> None:
    """The last worker's topic has the longest worker suffix; the error blames the field the
    name is made from and names the derived name."""
    topic = "a" * (255 - len(too_long))
    PubSubTaskTopic(
        stack, "fits", PubSubTaskTopicProps(project=PROJECT, topic_name=topic, **settings)
    )
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(
            stack,
            "too_long",
            PubSubTaskTopicProps(project=PROJECT, topic_name=topic + "a", **settings),
        )
    assert str(error.value) == (
        f"test/too_long: PubSubTaskTopic.topic_name = {topic + 'a'!r} is not allowed;"
        f" expected a name that makes {topic + 'a' + too_long!r} {NAME_RULE}"
    )


@pytest.mark.parametrize(
    ("settings", "too_long"),
    [
        ({"workers": 1, "dead_letter": False}, "-worker-1"),
        ({"workers": 10, "dead_letter": False}, "-worker-10"),
        ({}, "-dead-letter"),
    ],
)
def test_every_subscription_name_made_from_the_shared_one_must_fit(
    stack: TerraformStack, settings: dict[str, Any], too_long: str
) -> None:
    """The error blames the field the name is made from and names the derived name."""
    fits = "s" * (255 - len(too_long))
    PubSubTaskTopic(
        stack,
        "fits",
        PubSubTaskTopicProps(project=PROJECT, subscription_name=fits, **settings),
    )
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(
            stack,
            "too_long",
            PubSubTaskTopicProps(project=PROJECT, subscription_name=fits + "s", **settings),
        )
    assert str(error.value) == (
        f"test/too_long: PubSubTaskTopic.subscription_name = {fits + 's'!r} is not"
        f" allowed; expected a name that makes {fits + 's' + too_long!r} {NAME_RULE}"
    )


def test_names_only_known_at_apply_are_left_to_terraform(stack: TerraformStack) -> None:
    """A token's text is no name: checking it would refuse every name from a variable."""
    name = TerraformVariable(stack, "name", type="string").string_value
    PubSubTaskTopic(
        stack,
        "tasks",
        PubSubTaskTopicProps(project=PROJECT, topic_name=name, subscription_name=name, workers=1),
    )
    names = {
        body["name"]
        for resource_type in (PubsubTopic.TF_RESOURCE_TYPE, PubsubSubscription.TF_RESOURCE_TYPE)
        for body in resources(synth(stack), resource_type)
    }
    assert names == {"${var.name}", "${var.name}-worker-1", "${var.name}-dead-letter"}


def test_accepts_every_character_pubsub_allows(stack: TerraformStack) -> None:
    PubSubTaskTopic(
        stack,
        "tasks",
        PubSubTaskTopicProps(
            project=PROJECT, topic_name="a-_.~+%9", subscription_name="Z" * 255, dead_letter=False
        ),
    )
    names = {
        body["name"]
        for resource_type in (PubsubTopic.TF_RESOURCE_TYPE, PubsubSubscription.TF_RESOURCE_TYPE)
        for body in resources(synth(stack), resource_type)
    }
    assert names == {"a-_.~+%9", "Z" * 255}


def _replaced_with(stack: TerraformStack, tasks: PubSubTaskTopic) -> dict[str, tuple[str, str]]:
    """Each IAM member by the id the construct gave it (logical ids are hashed), as (type,
    name) of the one resource whose replacement replaces it; that is also the resource it
    grants on."""
    synthesized = synth(stack)
    replaced = {}
    for child in tasks.node.children:
        if isinstance(child, PubsubTopicIamMember):
            resource_type, argument = PubsubTopicIamMember.TF_RESOURCE_TYPE, "topic"
        elif isinstance(child, PubsubSubscriptionIamMember):
            resource_type, argument = PubsubSubscriptionIamMember.TF_RESOURCE_TYPE, "subscription"
        else:
            continue
        member = synthesized["resource"][resource_type][stack.get_logical_id(child)]
        [trigger] = triggers(member)
        assert trigger == target(member[argument])
        replaced[child.node.id] = (trigger[0], name_of(synthesized, trigger))
    return replaced


def test_each_iam_member_is_replaced_with_the_topic_or_subscription_it_grants_on(
    stack: TerraformStack,
) -> None:
    """IAM on a topic or subscription goes when it does, while Terraform's state keeps the
    member: without it the service agent moves no dead letter and a worker pulls nothing
    until a second apply. Replaced in the same apply, the new one has its IAM at once."""
    tasks = PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=2))
    tasks.grant_publish(PRODUCER)
    for worker in (1, 2):
        tasks.grant_consume(f"serviceAccount:w{worker}@x.iam.gserviceaccount.com", worker)
    topic, subscription = PubsubTopic.TF_RESOURCE_TYPE, PubsubSubscription.TF_RESOURCE_TYPE
    assert _replaced_with(stack, tasks) == {
        "dead_letter_publisher": (topic, "mlTrainingTopic-dead-letter"),
        "pubsub_producer_grant": (topic, "mlTrainingTopic"),
        "pubsub_worker_1_producer_grant": (topic, "mlTrainingTopic-worker-1"),
        "pubsub_worker_2_producer_grant": (topic, "mlTrainingTopic-worker-2"),
        "subscription_dead_letter_subscriber": (subscription, "mlTrainingSubscription"),
        "worker_1_subscription_dead_letter_subscriber": (
            subscription,
            "mlTrainingSubscription-worker-1",
        ),
        "worker_2_subscription_dead_letter_subscriber": (
            subscription,
            "mlTrainingSubscription-worker-2",
        ),
        "pubsub_worker_1_grant": (subscription, "mlTrainingSubscription-worker-1"),
        "pubsub_shared_worker_1_grant": (subscription, "mlTrainingSubscription"),
        "pubsub_worker_2_grant": (subscription, "mlTrainingSubscription-worker-2"),
        "pubsub_shared_worker_2_grant": (subscription, "mlTrainingSubscription"),
    }


def test_each_subscription_is_replaced_with_the_topic_it_subscribes_to(
    stack: TerraformStack,
) -> None:
    """A subscription of a replaced topic receives nothing more, while Terraform's state
    keeps it: replaced in the same apply, workers pull the new topic's tasks at once. Only
    that topic: the task subscriptions name the dead-letter topic in their dead-letter
    policy alone, which Pub/Sub changes in place."""
    PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=2))
    synthesized = synth(stack)
    replaced = {}
    for subscription in resources(synthesized, PubsubSubscription.TF_RESOURCE_TYPE):
        [trigger] = triggers(subscription)
        assert trigger == target(subscription["topic"])
        assert trigger[0] == PubsubTopic.TF_RESOURCE_TYPE
        replaced[subscription["name"]] = name_of(synthesized, trigger)
    assert replaced == {
        "mlTrainingSubscription": "mlTrainingTopic",
        "mlTrainingSubscription-worker-1": "mlTrainingTopic-worker-1",
        "mlTrainingSubscription-worker-2": "mlTrainingTopic-worker-2",
        "mlTrainingSubscription-dead-letter": "mlTrainingTopic-dead-letter",
    }


def test_only_subscriptions_and_iam_members_are_replaced_with_another_resource(
    stack: TerraformStack,
) -> None:
    """Topics hold tasks and refer to nothing a replacement would leave them without:
    replacing them along with something else would drop those tasks. The rest name what
    they watch or use by name or path."""
    key = "projects/p/locations/us/keyRings/ml/cryptoKeys/tasks"
    tasks = PubSubTaskTopic(
        stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=1, kms_key=key)
    )
    tasks.grant_publish(PRODUCER)
    synthesized = synth(stack)
    replaced = {
        PubsubSubscription.TF_RESOURCE_TYPE,
        "google_pubsub_topic_iam_member",
        "google_pubsub_subscription_iam_member",
    }
    assert replaced < set(synthesized["resource"])
    for resource_type, bodies in synthesized["resource"].items():
        for body in bodies.values():
            assert ("lifecycle" in body) == (resource_type in replaced), resource_type


@pytest.mark.parametrize("workers", [1, 60])
def test_the_number_of_alerting_policies_does_not_grow_with_the_workers(
    stack: TerraformStack, workers: int
) -> None:
    PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, workers=workers))
    assert len(resources(synth(stack), "google_monitoring_alert_policy")) == 2


def test_a_name_s_regex_characters_are_taken_literally(stack: TerraformStack) -> None:
    """A dot in a subscription name must not match any character in the alert's filter."""
    props = PubSubTaskTopicProps(project=PROJECT, workers=1, subscription_name="ml.tasks+v2")
    PubSubTaskTopic(stack, "tasks", props)
    assert "regex:ml[.]tasks[+]v2(-worker-[0-9]+)?" in _alerts(synth(stack))


def test_an_own_email_channel_that_every_alert_notifies(stack: TerraformStack) -> None:
    props = PubSubTaskTopicProps(
        project=PROJECT, workers=2, alarm_target="own", alarm_email="oncall@example.com"
    )
    PubSubTaskTopic(stack, "tasks", props)
    synthesized = synth(stack)
    [channel] = resources(synthesized, "google_monitoring_notification_channel")
    assert channel == {
        "display_name": "mlTrainingSubscription alerts",
        "labels": {"email_address": "oncall@example.com"},
        "type": "email",
    }
    [channel_id] = synthesized["resource"]["google_monitoring_notification_channel"]
    alerts = resources(synthesized, "google_monitoring_alert_policy")
    assert len(alerts) == 2
    for alert in alerts:
        assert alert["notification_channels"] == [
            f"${{google_monitoring_notification_channel.{channel_id}.name}}"
        ]


def test_no_channel_of_its_own_without_alerts_or_with_one_given(stack: TerraformStack) -> None:
    PubSubTaskTopic(
        stack,
        "off",
        PubSubTaskTopicProps(
            project=PROJECT,
            topic_name="t-off",
            subscription_name="s-off",
            alarms=False,
            alarm_target="own",
            alarm_email="oncall@example.com",
        ),
    )
    PubSubTaskTopic(stack, "given", PubSubTaskTopicProps(project=PROJECT, alarm_target=CHANNEL))
    assert resources(synth(stack), "google_monitoring_notification_channel") == []


def test_an_own_channel_needs_an_address(stack: TerraformStack) -> None:
    with pytest.raises(LimitError) as error:
        PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project=PROJECT, alarm_target="own"))
    assert str(error.value) == (
        "test/tasks: PubSubTaskTopic.alarm_email is unset; expected an email address"
        " such as 'oncall@example.com' with alarm_target = 'own': the stack's own destination"
        " must tell someone"
    )
