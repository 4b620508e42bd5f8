from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest
from cdktf import Aspects, TerraformOutput, TerraformStack, Testing

from constructs_lib.aspects import PreventDestroy
from constructs_lib.limits import LimitError
from constructs_lib.providers import SqsQueue
from constructs_lib.sqs.policies import CONSUME_ACTIONS, SEND_ACTIONS
from constructs_lib.sqs.props import SqsTaskQueueProps
from constructs_lib.sqs.queue import SqsTaskQueue
from tests.synth_helpers import resources, synth

SEED = {
    "name": "mlTrainingQueue",
    "delay_seconds": 90,
    "max_message_size": 262144,
    "message_retention_seconds": 86400,
    "receive_wait_time_seconds": 10,
    "visibility_timeout_seconds": 30,
    "sqs_managed_sse_enabled": True,
}
# Only the queues, for tests about them.
BARE: dict[str, Any] = {"enforce_ssl": False, "alarms": False}
NAME_RULE = "1 to 80 characters: letters, digits, hyphens and underscores"
ALARM_TOPIC = "arn:aws:sns:us-east-1:123456789012:ml-alarms"
FIFO_NAME_RULE = (
    "1 to 75 letters, digits, hyphens and underscores, then '.fifo' (80 characters in all)"
)


def test_defaults_are_the_seed_values(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "queue", SqsTaskQueueProps(dead_letter=False, **BARE))
    synthesized = Testing.synth(stack)
    assert Testing.to_have_resource_with_properties(synthesized, SqsQueue.TF_RESOURCE_TYPE, SEED)
    assert resources(synth(stack), SqsQueue.TF_RESOURCE_TYPE) == [SEED]
    assert set(synth(stack)["resource"]) == {SqsQueue.TF_RESOURCE_TYPE}


def test_a_dead_letter_queue_by_default_that_keeps_tasks_longer(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "tasks")
    synthesized = synth(stack)
    queues = synthesized["resource"][SqsQueue.TF_RESOURCE_TYPE]
    [(source_id, source)] = [(i, q) for i, q in queues.items() if q["name"] == "mlTrainingQueue"]
    [(dlq_id, dlq)] = [(i, q) for i, q in queues.items() if q["name"] == "mlTrainingQueue-dlq"]
    assert {
        key: value for key, value in source.items() if key not in ("policy", "redrive_policy")
    } == SEED
    assert dlq["message_retention_seconds"] == 1_209_600 > source["message_retention_seconds"]
    assert "delay_seconds" not in dlq  # a dead task is inspected at once
    # The redrive policy and the redrive-allow policy are the queues' own arguments: no
    # resource of their own, each of which the provider would wait on.
    assert set(synthesized["resource"]) == {
        SqsQueue.TF_RESOURCE_TYPE,
        "aws_cloudwatch_metric_alarm",
    }
    [account] = synthesized["data"]["aws_caller_identity"]
    [partition] = synthesized["data"]["aws_partition"]
    [region] = synthesized["data"]["aws_region"]
    assert json.loads(queues[source_id]["redrive_policy"]) == {
        "deadLetterTargetArn": f"${{aws_sqs_queue.{dlq_id}.arn}}",
        "maxReceiveCount": 5,
    }
    # The DLQ names its source by an ARN written from the name, not read from the queue,
    # which names the DLQ: no cycle, and the DLQ is made first.
    assert json.loads(dlq["redrive_allow_policy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [
            f"arn:${{data.aws_partition.{partition}.partition}}:sqs:"
            f"${{data.aws_region.{region}.name}}:"
            f"${{data.aws_caller_identity.{account}.account_id}}:mlTrainingQueue"
        ],
    }
    assert "aws_sqs_queue." + source_id not in json.dumps(dlq)


def test_the_redrive_allow_policy_can_be_left_out_for_emulators(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(dead_letter_sources_only=False))
    queues = {q["name"]: q for q in resources(synth(stack), SqsQueue.TF_RESOURCE_TYPE)}
    assert "redrive_allow_policy" not in queues["mlTrainingQueue-dlq"]
    assert "redrive_policy" in queues["mlTrainingQueue"]


def test_exposes_the_dead_letter_queue_only_when_there_is_one(stack: TerraformStack) -> None:
    with_dlq = SqsTaskQueue(stack, "with", SqsTaskQueueProps(name="a"))
    without = SqsTaskQueue(stack, "without", SqsTaskQueueProps(name="b", dead_letter=False))
    assert with_dlq.dead_letter_queue_url is not None
    assert with_dlq.dead_letter_queue_arn is not None
    assert (without.dead_letter_queue_url, without.dead_letter_queue_arn) == (None, None)


@pytest.mark.parametrize("count", [0, 1001])
def test_max_receive_count_within_what_sqs_accepts(stack: TerraformStack, count: int) -> None:
    with pytest.raises(LimitError) as error:
        SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(max_receive_count=count))
    assert str(error.value) == (
        f"test/tasks: SqsTaskQueue.max_receive_count = {count} is not allowed;"
        " expected an integer from 1 to 1000"
    )


def test_dead_letters_are_kept_at_least_as_long_as_tasks(stack: TerraformStack) -> None:
    SqsTaskQueue(
        stack,
        "as_long",
        SqsTaskQueueProps(
            name="a",
            message_retention_seconds=3600,
            dead_letter_retention_seconds=3600,
            oldest_message_alarm_seconds=600,
        ),
    )
    with pytest.raises(LimitError) as error:
        SqsTaskQueue(
            stack,
            "tasks",
            SqsTaskQueueProps(
                name="b", message_retention_seconds=86_400, dead_letter_retention_seconds=3600
            ),
        )
    assert str(error.value) == (
        "test/tasks: SqsTaskQueue.dead_letter_retention_seconds = 3600 is not allowed;"
        " expected at least message_retention_seconds = 86400: a moved task keeps its original"
        " enqueue time"
    )


def test_a_failing_task_reaches_the_dead_letter_queue_before_it_expires(
    stack: TerraformStack,
) -> None:
    """Held to the construct too: props made by hand meet the same arithmetic."""
    fits = SqsTaskQueueProps(
        name="a", message_retention_seconds=600, oldest_message_alarm_seconds=300, delay_seconds=0
    )
    SqsTaskQueue(stack, "fits", replace(fits, visibility_timeout_seconds=119))
    with pytest.raises(LimitError) as error:
        SqsTaskQueue(stack, "tasks", replace(fits, name="b", visibility_timeout_seconds=120))
    assert str(error.value) == (
        "test/tasks: SqsTaskQueue.max_receive_count = 5 is not allowed; expected at"
        " most 4: delay_seconds 0 + 5 receives x visibility_timeout_seconds 120"
        " (max_task_duration_seconds) = 600 s is not below message_retention_seconds = 600, so"
        " a failing task would expire before SQS moves it to its dead-letter queue"
    )


def test_the_dead_letter_queue_name_must_fit_too(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "fits", SqsTaskQueueProps(name="q" * 76))
    with pytest.raises(LimitError) as error:
        SqsTaskQueue(stack, "too_long", SqsTaskQueueProps(name="q" * 77))
    assert str(error.value) == (
        f"test/too_long: SqsTaskQueue.name = {'q' * 77!r} is not allowed;"
        f" expected a name that makes {'q' * 77 + '-dlq'!r} {NAME_RULE}"
    )


def test_exposes_url_and_arn_of_the_queue(stack: TerraformStack) -> None:
    queue = SqsTaskQueue(stack, "queue", SqsTaskQueueProps(name="q"))
    TerraformOutput(stack, "url", value=queue.queue_url)
    TerraformOutput(stack, "arn", value=queue.queue_arn)
    outputs = synth(stack)["output"]
    assert re.fullmatch(r"\$\{aws_sqs_queue\.\w+\.url\}", outputs["url"]["value"])
    assert re.fullmatch(r"\$\{aws_sqs_queue\.\w+\.arn\}", outputs["arn"]["value"])


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("delay_seconds", 0, 900),
        ("max_message_size", 1024, 262144),
        ("message_retention_seconds", 60, 1209600),
        ("receive_wait_time_seconds", 0, 20),
        ("visibility_timeout_seconds", 0, 43200),
    ],
)
def test_accepts_the_bounds_and_rejects_beyond_them(
    stack: TerraformStack, field: str, low: int, high: int
) -> None:
    for accepted in (low, high):
        # Alarms and DLQ off: the alarm threshold and the receives before redrive must stay
        # below the retention under test, which is not what this test is about.
        setting: dict[str, Any] = {field: accepted, "alarms": False, "dead_letter": False}
        SqsTaskQueue(stack, f"ok{accepted}", SqsTaskQueueProps(name=f"ok{accepted}", **setting))
    for bad in (low - 1, high + 1):
        setting = {field: bad}
        with pytest.raises(LimitError) as error:
            SqsTaskQueue(stack, f"bad{bad}", SqsTaskQueueProps(name="bad", **setting))
        assert str(error.value) == (
            f"test/bad{bad}: SqsTaskQueue.{field} = {bad} is not allowed;"
            f" expected an integer from {low} to {high}"
        )


def test_rejects_a_bool_where_a_number_belongs(stack: TerraformStack) -> None:
    with pytest.raises(LimitError) as error:
        SqsTaskQueue(stack, "queue", SqsTaskQueueProps(delay_seconds=True))
    assert str(error.value) == (
        "test/queue: SqsTaskQueue.delay_seconds = true is not allowed;"
        " expected an integer from 0 to 900"
    )


@pytest.mark.parametrize("name", ["", "a" * 81, "has space", "dot.fifo", "ümlaut"])
def test_rejects_names_sqs_would_refuse(stack: TerraformStack, name: str) -> None:
    with pytest.raises(LimitError) as error:
        SqsTaskQueue(stack, "queue", SqsTaskQueueProps(name=name))
    assert str(error.value) == (
        f"test/queue: SqsTaskQueue.name = {name!r} is not allowed;"
        f" expected a name that makes {name!r} {NAME_RULE}"
    )


def test_accepts_the_longest_valid_name(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "queue", SqsTaskQueueProps(name="a-" * 39 + "_z", dead_letter=False))
    assert resources(synth(stack), SqsQueue.TF_RESOURCE_TYPE)[0]["name"] == "a-" * 39 + "_z"


def test_encrypted_at_rest_with_sqs_keys_or_the_kms_key_given(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "sqs_managed", SqsTaskQueueProps(name="a", **BARE))
    SqsTaskQueue(stack, "kms", SqsTaskQueueProps(name="b", kms_key="alias/ml-queues", **BARE))
    queues = {q["name"]: q for q in resources(synth(stack), SqsQueue.TF_RESOURCE_TYPE)}
    for name in ("a", "a-dlq"):
        assert queues[name]["sqs_managed_sse_enabled"] is True
        assert "kms_master_key_id" not in queues[name]
    for name in ("b", "b-dlq"):
        assert queues[name]["kms_master_key_id"] == "alias/ml-queues"
        assert queues[name]["kms_data_key_reuse_period_seconds"] == 300
        assert "sqs_managed_sse_enabled" not in queues[name]


def test_both_queues_refuse_requests_without_tls(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(alarms=False))
    synthesized = synth(stack)
    queue_ids = {
        body["name"]: queue_id
        for queue_id, body in synthesized["resource"][SqsQueue.TF_RESOURCE_TYPE].items()
    }
    assert set(synthesized["resource"]) == {SqsQueue.TF_RESOURCE_TYPE}
    [account] = synthesized["data"]["aws_caller_identity"]
    for name in queue_ids:
        [body] = [q for q in resources(synthesized, SqsQueue.TF_RESOURCE_TYPE) if q["name"] == name]
        [statement] = json.loads(body["policy"])["Statement"]
        assert statement == {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            # The queue's own ARN, from its name: a queue cannot name its own `arn`.
            "Resource": statement["Resource"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
        assert statement["Resource"].endswith(
            f":${{data.aws_caller_identity.{account}.account_id}}:{name}"
        )


def test_fifo_queues_and_their_dead_letter_queue(stack: TerraformStack) -> None:
    SqsTaskQueue(
        stack,
        "tasks",
        SqsTaskQueueProps(name="q", fifo=True, content_based_deduplication=True, **BARE),
    )
    queues = {q["name"]: q for q in resources(synth(stack), SqsQueue.TF_RESOURCE_TYPE)}
    assert sorted(queues) == ["q-dlq.fifo", "q.fifo"]
    for queue in queues.values():
        assert (queue["fifo_queue"], queue["content_based_deduplication"]) == (True, True)


def test_deduplication_needs_a_fifo_queue(stack: TerraformStack) -> None:
    with pytest.raises(LimitError) as error:
        SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(content_based_deduplication=True))
    assert str(error.value) == (
        "test/tasks: SqsTaskQueue.content_based_deduplication = true is not allowed;"
        " expected false, or fifo = true: only FIFO queues deduplicate"
    )


def test_fifo_names_leave_room_for_the_suffix(stack: TerraformStack) -> None:
    SqsTaskQueue(
        stack, "fits", SqsTaskQueueProps(name="q" * 75, fifo=True, dead_letter=False, **BARE)
    )
    with pytest.raises(LimitError) as error:
        SqsTaskQueue(stack, "too_long", SqsTaskQueueProps(name="q" * 76, fifo=True))
    assert str(error.value) == (
        f"test/too_long: SqsTaskQueue.name = {'q' * 76!r} is not allowed;"
        f" expected a name that makes {'q' * 76 + '.fifo'!r} {FIFO_NAME_RULE}"
    )


def test_alarms_on_dead_letters_and_on_the_oldest_task_notify_the_topic(
    stack: TerraformStack,
) -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:ml-alarms"
    SqsTaskQueue(
        stack,
        "tasks",
        SqsTaskQueueProps(enforce_ssl=False, oldest_message_alarm_seconds=7200, alarm_target=topic),
    )
    synthesized = synth(stack)
    queue_ids = {
        body["name"]: queue_id
        for queue_id, body in synthesized["resource"][SqsQueue.TF_RESOURCE_TYPE].items()
    }
    alarms = {a["metric_name"]: a for a in resources(synthesized, "aws_cloudwatch_metric_alarm")}
    assert set(alarms) == {"ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible"}
    oldest = alarms["ApproximateAgeOfOldestMessage"]
    assert oldest["dimensions"] == {
        "QueueName": f"${{aws_sqs_queue.{queue_ids['mlTrainingQueue']}.name}}"
    }
    assert (oldest["threshold"], oldest["comparison_operator"]) == (7200, "GreaterThanThreshold")
    dead = alarms["ApproximateNumberOfMessagesVisible"]
    assert dead["dimensions"] == {
        "QueueName": f"${{aws_sqs_queue.{queue_ids['mlTrainingQueue-dlq']}.name}}"
    }
    assert dead["threshold"] == 0
    for alarm in alarms.values():
        assert alarm["namespace"] == "AWS/SQS"
        assert alarm["alarm_actions"] == [topic]
    # An empty queue reports no age: OK, but not announced, as a quiet queue looks the same.
    assert oldest["treat_missing_data"] == "notBreaching" and "ok_actions" not in oldest
    # A DLQ that stops reporting keeps the alarm's state: a dead letter stays in ALARM.
    assert dead["treat_missing_data"] == "ignore" and dead["ok_actions"] == [topic]


@pytest.mark.parametrize(
    ("alarm_target", "actions"),
    [(None, {}), ("none", {}), (ALARM_TOPIC, {"alarm_actions": [ALARM_TOPIC]})],
)
def test_alarms_notify_the_topic_given_and_nothing_when_told_none(
    stack: TerraformStack, alarm_target: str | None, actions: dict[str, list[str]]
) -> None:
    """`none` says on purpose that alarms have no actions; it must not reach AWS as one."""
    SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(alarm_target=alarm_target))
    alarms = resources(synth(stack), "aws_cloudwatch_metric_alarm")
    assert len(alarms) == 2
    for alarm in alarms:
        given = {key: alarm[key] for key in ("alarm_actions",) if key in alarm}
        assert given == actions, alarm["metric_name"]


@pytest.mark.parametrize("alarm_target", ["ml-alarms", "None", "none ", f"{ALARM_TOPIC},none", ""])
def test_rejects_an_alarm_target_that_is_neither_a_topic_nor_none(
    stack: TerraformStack, alarm_target: str
) -> None:
    with pytest.raises(LimitError) as error:
        SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(alarm_target=alarm_target))
    assert str(error.value) == (
        f"test/tasks: SqsTaskQueue.alarm_target = {alarm_target!r} is not allowed;"
        " expected an SNS topic ARN such as 'arn:aws:sns:us-east-1:123456789012:ml-alarms',"
        " 'own' for a topic the stack creates, or 'none' for alarms without actions"
    )


def test_grants_give_producers_send_and_workers_consume_only(stack: TerraformStack) -> None:
    queue = SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(name="q", **BARE))
    queue.grant_send_messages("producer", role="producer-role")
    queue.grant_consume_messages("worker", role="worker-role")
    policies = {p["role"]: p for p in resources(synth(stack), "aws_iam_role_policy")}
    assert policies["producer-role"]["name"] == "q-send"
    assert policies["worker-role"]["name"] == "q-consume"
    send = queue.send_policy()["Statement"]
    consume = queue.consume_policy()["Statement"]
    assert [s["Action"] for s in send] == [list(SEND_ACTIONS)]
    assert [s["Action"] for s in consume] == [list(CONSUME_ACTIONS)]
    assert "sqs:ReceiveMessage" not in SEND_ACTIONS and "sqs:SendMessage" not in CONSUME_ACTIONS


def test_grants_include_the_kms_key_when_there_is_one(stack: TerraformStack) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    queue = SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(kms_key=key, **BARE))
    assert queue.send_policy()["Statement"][1] == {
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": key,
    }
    assert queue.consume_policy()["Statement"][1]["Action"] == ["kms:Decrypt"]


def test_prevent_destroy_protects_every_queue_in_the_stack(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(name="a", **BARE))
    SqsTaskQueue(stack, "more", SqsTaskQueueProps(name="b", **BARE))
    Aspects.of(stack).add(PreventDestroy())
    synthesized = synth(stack)
    queues = resources(synthesized, SqsQueue.TF_RESOURCE_TYPE)
    assert sorted(queue["name"] for queue in queues) == ["a", "a-dlq", "b", "b-dlq"]
    for queue in queues:
        assert queue["lifecycle"] == {"prevent_destroy": True}


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("kms_key", "my-key", "a KMS key ID, key ARN, alias name"),
        ("kms_data_key_reuse_period_seconds", 59, "an integer from 60 to 86400"),
        ("kms_data_key_reuse_period_seconds", 86_401, "an integer from 60 to 86400"),
        ("oldest_message_alarm_seconds", 59, "an integer from 60 to 1209600"),
    ],
)
def test_rejects_new_settings_outside_what_aws_accepts(
    stack: TerraformStack, field: str, value: object, allowed: str
) -> None:
    arguments: dict[str, Any] = {field: value}
    with pytest.raises(LimitError) as error:
        SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(**arguments))
    assert str(error.value).startswith(
        f"test/tasks: SqsTaskQueue.{field} = {value!r} is not allowed; expected {allowed}"
    )


def test_high_throughput_fifo_on_the_queue_and_its_dead_letter_queue(
    stack: TerraformStack,
) -> None:
    props = SqsTaskQueueProps(
        fifo=True, deduplication_scope="messageGroup", fifo_throughput_limit="perMessageGroupId"
    )
    SqsTaskQueue(stack, "tasks", props)
    queues = resources(synth(stack), SqsQueue.TF_RESOURCE_TYPE)
    assert len(queues) == 2
    for queue in queues:
        assert queue["fifo_queue"] is True
        assert queue["deduplication_scope"] == "messageGroup"
        assert queue["fifo_throughput_limit"] == "perMessageGroupId"


def test_unset_throughput_settings_leave_the_queue_to_sqs_defaults(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(fifo=True))
    for queue in resources(synth(stack), SqsQueue.TF_RESOURCE_TYPE):
        assert "deduplication_scope" not in queue and "fifo_throughput_limit" not in queue


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"deduplication_scope": "messageGroup"},
            "SqsTaskQueue.deduplication_scope = 'messageGroup' is not allowed; expected it unset,"
            " or fifo = true: standard queues have no such setting",
        ),
        (
            {"fifo_throughput_limit": "perQueue"},
            "SqsTaskQueue.fifo_throughput_limit = 'perQueue' is not allowed; expected it unset,"
            " or fifo = true: standard queues have no such setting",
        ),
        (
            {"fifo": True, "fifo_throughput_limit": "perMessageGroupId"},
            "SqsTaskQueue.fifo_throughput_limit = 'perMessageGroupId' is not allowed; expected"
            " deduplication_scope = 'messageGroup' with it, as SQS requires",
        ),
        (
            {"fifo": True, "deduplication_scope": "group"},
            "SqsTaskQueue.deduplication_scope = 'group' is not allowed; expected 'queue' or"
            " 'messageGroup'",
        ),
        (
            {"fifo": True, "fifo_throughput_limit": "perGroup"},
            "SqsTaskQueue.fifo_throughput_limit = 'perGroup' is not allowed; expected 'perQueue'"
            " or 'perMessageGroupId'",
        ),
    ],
)
def test_throughput_settings_only_where_sqs_takes_them(
    stack: TerraformStack, settings: dict[str, Any], expected: str
) -> None:
    with pytest.raises(LimitError) as error:
        SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(**settings))
    assert str(error.value) == f"test/tasks: {expected}"


def test_the_old_policy_resources_are_forgotten_not_destroyed(stack: TerraformStack) -> None:
    """A deployed queue keeps its policies through the move: a `removed` block with
    `destroy = false` for each address the separate policy resources had (their ids come
    from cdktf's rule, held to cdktf itself in test_retired.py)."""
    SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(alarms=False))
    removed = synth(stack)["removed"]
    assert all(block["lifecycle"] == {"destroy": False} for block in removed)
    assert sorted(block["from"].split(".")[0] for block in removed) == [
        "aws_sqs_queue_policy",
        "aws_sqs_queue_policy",
        "aws_sqs_queue_redrive_allow_policy",
        "aws_sqs_queue_redrive_policy",
    ]
    assert {block["from"].split(".")[1].rsplit("_", 1)[0] for block in removed} == {
        "tasks_queue_policy",
        "tasks_dead_letter_queue_policy",
        "tasks_redrive_policy",
        "tasks_redrive_allow_policy",
    }


def test_without_tls_or_redrive_allow_a_queue_reads_no_account(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "tasks", SqsTaskQueueProps(dead_letter=False, **BARE))
    assert "data" not in synth(stack)


def test_a_channel_passes_its_queues_one_arn_prefix(stack: TerraformStack) -> None:
    SqsTaskQueue(
        stack, "tasks", SqsTaskQueueProps(alarms=False), arn_prefix="arn:aws:sqs:eu-west-1:1234"
    )
    synthesized = synth(stack)
    assert "data" not in synthesized
    queues = {q["name"]: q for q in resources(synthesized, SqsQueue.TF_RESOURCE_TYPE)}
    [statement] = json.loads(queues["mlTrainingQueue"]["policy"])["Statement"]
    assert statement["Resource"] == "arn:aws:sqs:eu-west-1:1234:mlTrainingQueue"


def test_a_queue_of_its_own_can_own_its_alarm_topic(stack: TerraformStack) -> None:
    """Named after the queue without `.fifo`: SNS topic names take no dot."""
    props = SqsTaskQueueProps(
        name="q", fifo=True, alarm_target="own", alarm_email="oncall@example.com"
    )
    SqsTaskQueue(stack, "tasks", props)
    synthesized = synth(stack)
    [topic] = resources(synthesized, "aws_sns_topic")
    assert topic == {"name": "q-alarms"}
    [policy] = resources(synthesized, "aws_sns_topic_policy")
    assert '"alarm:q*"' in policy["policy"]
    alarms = resources(synthesized, "aws_cloudwatch_metric_alarm")
    assert len(alarms) == 2
    for alarm in alarms:
        assert alarm["alarm_actions"] == [policy["arn"]]
