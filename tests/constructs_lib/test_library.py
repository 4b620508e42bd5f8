"""The constructs as another team's app uses them: several channels of one backend in one
stack, a RabbitMQ channel that brings its own vhost, and errors that name the construct."""

from __future__ import annotations

from typing import Any

import pytest
from cdktf import TerraformStack

from constructs_lib.limits import LimitError
from constructs_lib.pubsub import PubSubTaskTopic, PubSubTaskTopicProps
from constructs_lib.rabbitmq import RabbitMqTaskExchange, RabbitMqTaskExchangeProps, Vhost
from constructs_lib.sqs import SqsTaskChannel, SqsTaskChannelProps, SqsTaskQueueProps
from tests.synth_helpers import synth


def _names(synthesized: dict[str, Any], resource_type: str, key: str = "name") -> set[str]:
    return {body[key] for body in synthesized["resource"][resource_type].values()}


def test_two_sqs_channels_in_one_stack_have_their_own_addresses_and_names(
    stack: TerraformStack,
) -> None:
    for id, name in (("training", "training-tasks"), ("eval", "eval-tasks")):
        SqsTaskChannel(
            stack,
            id,
            SqsTaskChannelProps(region="eu-west-1", workers=2, queue=SqsTaskQueueProps(name=name)),
        )
    synthesized = synth(stack)
    queues = synthesized["resource"]["aws_sqs_queue"]
    assert len(queues) == 2 * 2 * 3  # per channel: shared + 2 workers, each with its DLQ
    assert {id.split("_", 1)[0] for id in queues} == {"training", "eval"}
    assert "training-tasks-worker-2-dlq" in _names(synthesized, "aws_sqs_queue")
    assert "eval-tasks-worker-2-dlq" in _names(synthesized, "aws_sqs_queue")
    alarms = _names(synthesized, "aws_cloudwatch_metric_alarm", "alarm_name")
    assert {"training-tasks-oldest-task", "eval-tasks-oldest-task"} <= alarms


def test_two_pubsub_channels_in_one_stack_have_their_own_addresses_and_names(
    stack: TerraformStack,
) -> None:
    for id in ("training", "eval"):
        PubSubTaskTopic(
            stack,
            id,
            PubSubTaskTopicProps(
                project="ml-project", workers=1, topic_name=f"{id}-tasks", subscription_name=id
            ),
        )
    synthesized = synth(stack)
    assert {"training-tasks", "eval-tasks-worker-1"} <= _names(synthesized, "google_pubsub_topic")
    assert {"training", "eval-worker-1"} <= _names(synthesized, "google_pubsub_subscription")


def test_a_rabbitmq_channel_brings_its_own_vhost_so_two_live_side_by_side(
    stack: TerraformStack,
) -> None:
    for id in ("training", "eval"):
        RabbitMqTaskExchange(stack, id, RabbitMqTaskExchangeProps(vhost=f"{id}-vhost", workers=1))
    synthesized = synth(stack)
    assert _names(synthesized, "rabbitmq_vhost") == {"training-vhost", "eval-vhost"}
    # Every queue names its channel's vhost by reference, so Terraform makes the vhost first.
    for id, body in synthesized["resource"]["rabbitmq_queue"].items():
        owner = id.split("_", 1)[0]
        assert body["vhost"].startswith(f"${{rabbitmq_vhost.{owner}_vhost_"), id


def test_a_vhost_made_elsewhere_is_used_and_must_carry_the_props_name(
    stack: TerraformStack,
) -> None:
    shared = Vhost(stack, "shared", name="ml")
    RabbitMqTaskExchange(stack, "tasks", RabbitMqTaskExchangeProps(vhost="ml"), vhost=shared)
    assert _names(synth(stack), "rabbitmq_vhost") == {"ml"}
    with pytest.raises(LimitError) as error:
        RabbitMqTaskExchange(stack, "other", RabbitMqTaskExchangeProps(vhost="mq"), vhost=shared)
    assert str(error.value) == (
        "test/other: RabbitMqTaskExchange.vhost = 'mq' is not allowed; expected 'ml', the"
        " name of the Vhost passed as `vhost`"
    )


def test_an_error_names_the_construct_path_and_never_an_environment(
    stack: TerraformStack,
) -> None:
    props = SqsTaskChannelProps(region="Europe")
    with pytest.raises(LimitError) as error:
        SqsTaskChannel(stack, "training", props)
    message = str(error.value)
    assert message.startswith("test/training: SqsTaskChannel.region = 'Europe' is not allowed;")
    assert "environment" not in message
    # Nothing was left half-made: the id is free for a corrected channel.
    SqsTaskChannel(stack, "training", SqsTaskChannelProps(region="eu-west-1"))
