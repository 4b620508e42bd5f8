"""The stack-wide rules: each reaches every resource it is meant for, and changes nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cdktf import (
    Aspects,
    IAspect,
    Postcondition,
    Precondition,
    TerraformResourceLifecycle,
    TerraformStack,
    TerraformVariable,
    Testing,
)

from constructs_lib.aspects import CommonLabels, PreventDestroy
from constructs_lib.providers import (
    CloudwatchMetricAlarm,
    MonitoringAlertPolicy,
    SqsQueue,
)
from constructs_lib.pubsub.props import PubSubTaskTopicProps
from constructs_lib.pubsub.topic import PubSubTaskTopic
from constructs_lib.rabbitmq.bindings import Binding, Exchange, Queue, QueueSettings, User, Vhost
from constructs_lib.rabbitmq.exchange import RabbitMqTaskExchange
from constructs_lib.rabbitmq.props import RabbitMqTaskExchangeProps
from constructs_lib.registry import task_holding_types
from constructs_lib.sqs.queue import SqsTaskQueue
from tests.constructs_lib.lifecycle_helpers import triggers
from tests.synth_helpers import resources, synth

LABELS = {"environment": "test", "owner": "ml-platform"}
PROTECTED = {"prevent_destroy": True}
# What the constructs replace together with a task-holding resource they refer to by name;
# a subscription holds tasks itself, and goes with its topic.
REPLACED_WITH_ANOTHER = frozenset(
    {
        "google_pubsub_subscription",
        "rabbitmq_binding",
        "google_pubsub_topic_iam_member",
        "google_pubsub_subscription_iam_member",
    }
)


def every_backend(stack: TerraformStack) -> None:
    """One of each construct and resource kind the stacks build, so "nothing else" covers
    more than one backend's resources."""
    SqsTaskQueue(stack, "sqs")
    tasks = RabbitMqTaskExchange(stack, "rabbitmq", RabbitMqTaskExchangeProps(vhost="ml"))
    tasks.grant_publish("producer")
    tasks.grant_consume("worker_1", 1)
    Vhost(stack, "vhost", name="ml")
    password = TerraformVariable(stack, "password", type="string", sensitive=True)
    User(stack, "user", name="producer", password=password.string_value)
    pubsub = PubSubTaskTopic(
        stack, "pubsub", PubSubTaskTopicProps(project="ml-queues-dev", workers=1)
    )
    pubsub.grant_publish("serviceAccount:producer@ml-queues-dev.iam.gserviceaccount.com")


def with_and_without(
    stack: TerraformStack, build: Callable[[TerraformStack], None], aspect: IAspect
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same resources synthesized with the aspect and, in a twin stack, without it:
    what differs is exactly what the aspect did."""
    build(stack)
    Aspects.of(stack).add(aspect)
    twin = TerraformStack(Testing.app(), "test")
    build(twin)
    return synth(stack), synth(twin)


def without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != key}


def test_prevent_destroy_protects_task_holding_resources_and_nothing_else(
    stack: TerraformStack,
) -> None:
    protected, plain = with_and_without(stack, every_backend, PreventDestroy())
    assert set(protected["resource"]) >= task_holding_types() | REPLACED_WITH_ANOTHER
    assert set(protected["resource"]) - task_holding_types()  # something to leave alone
    for resource_type, bodies in protected["resource"].items():
        for logical_id, body in bodies.items():
            before = plain["resource"][resource_type][logical_id]
            if resource_type in REPLACED_WITH_ANOTHER:
                replaced_with = {trigger_type for trigger_type, _ in triggers(before)}
                assert replaced_with, logical_id
                assert replaced_with <= task_holding_types(), logical_id
            else:
                assert "lifecycle" not in before, logical_id
            if resource_type in task_holding_types():
                # Protected, a replace_triggered_by the construct set kept beside it.
                protected_lifecycle = {**before.get("lifecycle", {}), **PROTECTED}
                assert body["lifecycle"] == protected_lifecycle, logical_id
                assert without(body, "lifecycle") == without(before, "lifecycle")
            else:
                assert body == before, logical_id
    assert protected["data"] == plain["data"]


def test_prevent_destroy_protects_the_sqs_queues_not_their_alarms(
    stack: TerraformStack,
) -> None:
    SqsTaskQueue(stack, "tasks")
    Aspects.of(stack).add(PreventDestroy())
    synthesized = synth(stack)
    queues = resources(synthesized, SqsQueue.TF_RESOURCE_TYPE)
    assert sorted(queue["name"] for queue in queues) == ["mlTrainingQueue", "mlTrainingQueue-dlq"]
    assert all(queue["lifecycle"] == PROTECTED for queue in queues)
    alarms = resources(synthesized, CloudwatchMetricAlarm.TF_RESOURCE_TYPE)
    assert len(alarms) == 2
    assert all("lifecycle" not in alarm for alarm in alarms)


def test_prevent_destroy_protects_a_rabbitmq_queue_not_its_binding(
    stack: TerraformStack,
) -> None:
    RabbitMqTaskExchange(stack, "tasks", RabbitMqTaskExchangeProps(vhost="ml", workers=1))
    Aspects.of(stack).add(PreventDestroy())
    synthesized = synth(stack)
    [worker_queue] = [
        queue
        for queue in resources(synthesized, Queue.TF_RESOURCE_TYPE)
        if queue["name"] == "worker_queue_1"
    ]
    assert worker_queue["lifecycle"] == PROTECTED
    [binding] = [
        binding
        for binding in resources(synthesized, Binding.TF_RESOURCE_TYPE)
        if binding["routing_key"] == "worker_queue_1"
    ]
    # Not protected; still replaced with its queue and the exchange it binds it to.
    [queue_id] = [
        queue_id
        for queue_id, queue in synthesized["resource"][Queue.TF_RESOURCE_TYPE].items()
        if queue["name"] == "worker_queue_1"
    ]
    [exchange_id] = [
        exchange_id
        for exchange_id, exchange in synthesized["resource"][Exchange.TF_RESOURCE_TYPE].items()
        if exchange["name"] == "ml_tasks"
    ]
    assert binding["lifecycle"] == {
        "replace_triggered_by": [
            f"rabbitmq_queue.{queue_id}.id",
            f"rabbitmq_exchange.{exchange_id}.id",
        ]
    }


def test_prevent_destroy_keeps_every_other_lifecycle_setting(stack: TerraformStack) -> None:
    """A queue's own lifecycle, such as create_before_destroy, must survive the aspect."""
    Queue(
        stack,
        "queue",
        name="tasks",
        vhost="ml",
        settings=QueueSettings(durable=True),
        lifecycle=TerraformResourceLifecycle(
            create_before_destroy=True,
            ignore_changes=["settings"],
            replace_triggered_by=["rabbitmq_vhost.ml"],
            precondition=[Precondition(condition="${true}", error_message="before")],
            postcondition=[Postcondition(condition="${true}", error_message="after")],
        ),
    )
    Aspects.of(stack).add(PreventDestroy())
    [queue] = resources(synth(stack), Queue.TF_RESOURCE_TYPE)
    assert queue["lifecycle"] == {
        "create_before_destroy": True,
        "ignore_changes": ["settings"],
        "replace_triggered_by": ["rabbitmq_vhost.ml"],
        "precondition": [{"condition": "${true}", "error_message": "before"}],
        "postcondition": [{"condition": "${true}", "error_message": "after"}],
        "prevent_destroy": True,
    }


def test_prevent_destroy_leaves_the_lifecycle_of_other_resources_as_it_was(
    stack: TerraformStack,
) -> None:
    Binding(
        stack,
        "binding",
        source="ml_tasks",
        vhost="ml",
        destination="worker_queue_1",
        destination_type="queue",
        routing_key="worker_queue_1",
        lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
    )
    Aspects.of(stack).add(PreventDestroy())
    [binding] = resources(synth(stack), Binding.TF_RESOURCE_TYPE)
    assert binding["lifecycle"] == {"create_before_destroy": True}


def test_common_labels_label_the_alert_policies_and_nothing_else(stack: TerraformStack) -> None:
    """Alerting policies are what the provider's default labels miss; the rest has them."""

    def pubsub(stack: TerraformStack) -> None:
        PubSubTaskTopic(stack, "tasks", PubSubTaskTopicProps(project="ml-queues-dev", workers=1))

    labelled, plain = with_and_without(stack, pubsub, CommonLabels(LABELS))
    alert_policies = labelled["resource"][MonitoringAlertPolicy.TF_RESOURCE_TYPE]
    # The dead-letter subscription's, the shared subscription's and worker 1's.
    assert len(alert_policies) == 2
    assert all(policy["user_labels"] == LABELS for policy in alert_policies.values())
    for resource_type, bodies in labelled["resource"].items():
        for logical_id, body in bodies.items():
            if resource_type != MonitoringAlertPolicy.TF_RESOURCE_TYPE:
                assert "user_labels" not in body, logical_id
            assert without(body, "user_labels") == plain["resource"][resource_type][logical_id]
    assert labelled["data"] == plain["data"]
