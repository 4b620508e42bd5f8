"""Alarms as data: where they notify, what a lone queue watches, and that the catalogues and
the Prometheus renderer stand without jsii.

Why: where alarms notify was decided three times, and a lone SQS queue had alarms of its own
beside the channel's; each is now one piece of code, and these tests hold its behaviour. What
each alarm says is held by the stacks' snapshots and tests/tools/test_rabbitmq_alerts.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cdktf import TerraformStack

from constructs_lib.alarms import destinations
from constructs_lib.pubsub.props import PubSubTaskTopicProps
from constructs_lib.pubsub.topic import PubSubTaskTopic
from constructs_lib.sqs.alarms import channel_alarms, queue_alarms
from constructs_lib.sqs.props import SqsTaskQueueProps
from constructs_lib.sqs.queue import SqsTaskQueue
from tests.synth_helpers import resources, synth

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
TOPIC = "arn:aws:sns:us-east-1:123456789012:ml-alarms"


class _Own:
    """Makes the stack's own destination, and counts for whom."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self, email: str) -> str:
        self.made.append(email)
        return "own-arn"


@pytest.mark.parametrize(("target", "expected"), [(None, None), ("none", None), (TOPIC, [TOPIC])])
def test_a_target_given_or_none_makes_no_destination(
    target: str | None, expected: list[str] | None
) -> None:
    own = _Own()
    assert destinations(target, None, own) == expected
    assert own.made == []


def test_own_makes_the_destination_once_for_its_address() -> None:
    own = _Own()
    assert destinations("own", "oncall@example.com", own) == ["own-arn"]
    assert own.made == ["oncall@example.com"]


def test_own_without_an_address_is_refused() -> None:
    with pytest.raises(ValueError, match="alarm_target 'own' needs alarm_email"):
        destinations("own", None, lambda email: email)


def test_a_lone_queue_alarms_on_the_channels_conditions() -> None:
    """The same two conditions over one queue's metrics as over a channel's queries: the
    oldest task's age above the setting (a missing age is OK, OK is not notified), and a dead
    letter waiting (a quiet DLQ keeps the alarm's state, OK is notified)."""
    props = SqsTaskQueueProps(oldest_message_alarm_seconds=1800)
    lone = queue_alarms(props, "q", "q-dlq")
    channel = channel_alarms("c", props)
    assert [alarm.watch.condition for alarm in lone] == [
        alarm.watch.condition for alarm in channel[:2]
    ]
    oldest, dead = lone
    assert (oldest.watch.condition.threshold, oldest.watch.condition.notify_ok) == (1800, False)
    assert (dead.watch.condition.missing_data, dead.watch.condition.notify_ok) == ("ignore", True)


def test_without_alarms_the_catalogues_are_empty() -> None:
    props = SqsTaskQueueProps(alarms=False)
    assert channel_alarms("c", props) == []
    assert queue_alarms(props, "q", "q-dlq") == []


def test_a_lone_queues_alarms_are_named_after_it_and_follow_it(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(name="q"))
    alarms = {a["metric_name"]: a for a in resources(synth(stack), "aws_cloudwatch_metric_alarm")}
    for metric, queue in (
        ("ApproximateAgeOfOldestMessage", "tasks_queue_D1BE3334"),
        ("ApproximateNumberOfMessagesVisible", "tasks_dead_letter_queue_388880AE"),
    ):
        assert alarms[metric]["alarm_name"] == f"${{aws_sqs_queue.{queue}.name}}-{metric}"
        assert alarms[metric]["dimensions"] == {"QueueName": f"${{aws_sqs_queue.{queue}.name}}"}


@pytest.mark.parametrize("backend", ["sqs", "pubsub"])
def test_without_alarms_no_destination_is_made_even_if_own(
    stack: TerraformStack, backend: str
) -> None:
    """The stack's own topic or channel exists for its alarms: none, and nobody is
    subscribed to anything."""
    email = "oncall@example.com"
    if backend == "sqs":
        props = SqsTaskQueueProps(alarms=False, alarm_target="own", alarm_email=email)
        SqsTaskQueue(stack, "tasks", props)
    else:
        topic = PubSubTaskTopicProps(
            project="my-project", alarms=False, alarm_target="own", alarm_email=email
        )
        PubSubTaskTopic(stack, "topic", topic)
    made = synth(stack)["resource"]
    assert not {"aws_sns_topic", "google_monitoring_notification_channel"} & set(made)
    assert not {"aws_cloudwatch_metric_alarm", "google_monitoring_alert_policy"} & set(made)


def test_the_catalogues_and_the_rule_writer_load_no_jsii() -> None:
    """Alarms are data until a construct renders them: the Prometheus rules are written
    without cdktf, and reading a catalogue costs no jsii runtime."""
    script = (
        "import json, sys\n"
        "import constructs_lib.sqs.alarms, constructs_lib.pubsub.alarms\n"
        "import constructs_lib.rabbitmq.alarms, constructs_lib.alarms.prometheus\n"
        "import tools.rabbitmq_alerts\n"
        "heavy = ('jsii', 'cdktf', 'constructs', 'cdktf_cdktf_provider_aws',"
        " 'cdktf_cdktf_provider_google')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == []
