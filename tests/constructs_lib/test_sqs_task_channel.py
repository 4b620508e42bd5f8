from __future__ import annotations

import re
from typing import Any

import pytest
from cdktf import TerraformOutput, TerraformStack

from constructs_lib import limits
from constructs_lib.limits import LimitError
from constructs_lib.providers import SqsQueue
from constructs_lib.sqs.backend import SqsProducerWiring, SqsWorkerWiring
from constructs_lib.sqs.channel import SqsTaskChannel
from constructs_lib.sqs.policies import CONSUME_ACTIONS, SEND_ACTIONS
from constructs_lib.sqs.props import SqsTaskChannelProps, SqsTaskQueueProps
from tests.synth_helpers import resources, selected_by_tags, synth

REGION = "eu-west-1"
# Only the queues and their redrive, for tests about them.
BARE: dict[str, Any] = {"enforce_ssl": False, "alarms": False}
# What the deployed stacks' state holds; a changed id would make Terraform replace the queue.
LOGICAL_IDS = {
    "tasks": "sqs_task_queue_A78A7F3E",
    "tasks-worker-1": "sqs_worker_1_queue_D8FE951A",
    "tasks-worker-2": "sqs_worker_2_queue_6A22E436",
    "tasks-worker-3": "sqs_worker_3_queue_836A2801",
}
ARN_REFERENCE = re.compile(r"aws_sqs_queue\.(\w+)\.arn")
# aws provider 5.x refuses a longer metric_query expression at plan time.
PROVIDER_EXPRESSION_LIMIT = 1024
CONSUME_ONLY = sorted(set(CONSUME_ACTIONS) - set(SEND_ACTIONS))


def _channel(stack: TerraformStack, **fields: Any) -> SqsTaskChannel:
    queue = SqsTaskQueueProps(name="tasks", **BARE)
    return SqsTaskChannel(
        stack, "Default", SqsTaskChannelProps(region=REGION, queue=queue, **fields)
    )


def _queue_ids(synthesized: dict[str, Any]) -> dict[str, str]:
    """Queue name -> logical id, to tell which queue a reference points at."""
    return {
        body["name"]: queue_id
        for queue_id, body in synthesized["resource"][SqsQueue.TF_RESOURCE_TYPE].items()
    }


def _url(queue_id: str) -> str:
    return f"${{aws_sqs_queue.{queue_id}.url}}"


def _arn(queue_id: str) -> str:
    return f"${{aws_sqs_queue.{queue_id}.arn}}"


def _policies(synthesized: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each IAM role policy by its name, with the queue ids its document names."""
    return {
        policy["name"]: {**policy, "queues": ARN_REFERENCE.findall(policy["policy"])}
        for policy in resources(synthesized, "aws_iam_role_policy")
    }


def test_a_queue_per_worker_and_a_shared_one_where_the_stack_first_made_them(
    stack: TerraformStack,
) -> None:
    """The queues keep the logical ids they had before the channel existed, or a deploy
    would replace every queue and drop the tasks in it."""
    _channel(stack)
    queue_ids = _queue_ids(synth(stack))
    assert sorted(queue_ids) == [
        "tasks",
        "tasks-dlq",
        "tasks-worker-1",
        "tasks-worker-1-dlq",
        "tasks-worker-2",
        "tasks-worker-2-dlq",
        "tasks-worker-3",
        "tasks-worker-3-dlq",
    ]
    assert {name: queue_ids[name] for name in LOGICAL_IDS} == LOGICAL_IDS
    assert queue_ids["tasks-dlq"].startswith("sqs_task_queue_")
    for n in (1, 2, 3):
        assert queue_ids[f"tasks-worker-{n}-dlq"].startswith(f"sqs_worker_{n}_queue_")


def test_every_queue_gets_the_queue_settings(stack: TerraformStack) -> None:
    queue = SqsTaskQueueProps(name="tasks", delay_seconds=0, dead_letter=False, **BARE)
    SqsTaskChannel(stack, "Default", SqsTaskChannelProps(region=REGION, workers=2, queue=queue))
    queues = resources(synth(stack), SqsQueue.TF_RESOURCE_TYPE)
    assert sorted(q["name"] for q in queues) == ["tasks", "tasks-worker-1", "tasks-worker-2"]
    assert {q["delay_seconds"] for q in queues} == {0}


def test_without_the_shared_queue_only_worker_queues(stack: TerraformStack) -> None:
    channel = _channel(stack, workers=2, shared=False)
    assert channel.shared_address is None
    assert sorted(_queue_ids(synth(stack))) == [
        "tasks-worker-1",
        "tasks-worker-1-dlq",
        "tasks-worker-2",
        "tasks-worker-2-dlq",
    ]


def test_addresses_are_the_queue_urls_worker_1_first(stack: TerraformStack) -> None:
    channel = _channel(stack)
    TerraformOutput(stack, "workers", value=channel.worker_addresses)
    TerraformOutput(stack, "shared", value=channel.shared_address)
    synthesized = synth(stack)
    assert synthesized["output"]["workers"]["value"] == [
        _url(LOGICAL_IDS[f"tasks-worker-{n}"]) for n in (1, 2, 3)
    ]
    assert synthesized["output"]["shared"]["value"] == _url(LOGICAL_IDS["tasks"])


# The account the stack's AWS provider deploys into, never `*`.
OWN_ACCOUNT = "${data.aws_caller_identity.sqs_account.account_id}"


def _statements(policy: dict[str, Any]) -> list[tuple[str, list[str], list[str]]]:
    """(effect, actions, resources) of each statement, references resolved to logical ids."""
    document = policy["policy"].removeprefix("${jsonencode(").removesuffix(")}")
    found = []
    # A statement ends where the next begins or the list closes: `${...}` has braces too.
    statements = re.findall(r'\{"Effect" = "(\w+)", (.*?)\}(?=, \{"Effect"|\]\})', document)
    for statement in statements:
        effect, body = statement
        actions = re.findall(r'"((?:sqs|kms):\w+)"', body.split('"Resource"')[0])
        resources = body.split('"Resource" = ', 1)[1]
        named = ARN_REFERENCE.findall(resources) + re.findall(r'"(arn:[^"]+)"', resources)
        found.append((effect, actions, named))
    return found


def test_the_producer_gets_one_policy_whatever_the_number_of_workers(
    stack: TerraformStack,
) -> None:
    """The worker queues by name pattern, so the policy does not grow with the workers
    (IAM caps a role's inline policies at 10,240 characters), and no dead-letter queue."""
    _channel(stack).grant_publish("producer")
    synthesized = synth(stack)
    queue_ids = _queue_ids(synthesized)
    [policy] = resources(synthesized, "aws_iam_role_policy")
    assert (policy["name"], policy["role"]) == ("tasks-producer", "producer")
    pattern = f"arn:aws:sqs:{REGION}:{OWN_ACCOUNT}:tasks-worker-*"
    assert _statements(policy) == [
        ("Allow", list(SEND_ACTIONS), [queue_ids["tasks"], pattern]),
        ("Deny", ["sqs:SendMessage"], [queue_ids["tasks-dlq"], f"{pattern}-dlq*"]),
    ]
    assert not any(action in policy["policy"] for action in CONSUME_ONLY)


def test_without_the_shared_queue_the_producer_sends_to_the_worker_queues_only(
    stack: TerraformStack,
) -> None:
    _channel(stack, shared=False).grant_publish("producer")
    [policy] = resources(synth(stack), "aws_iam_role_policy")
    pattern = f"arn:aws:sqs:{REGION}:{OWN_ACCOUNT}:tasks-worker-*"
    assert _statements(policy) == [
        ("Allow", list(SEND_ACTIONS), [pattern]),
        ("Deny", ["sqs:SendMessage"], [f"{pattern}-dlq*"]),
    ]


def test_a_worker_gets_one_policy_for_its_own_queue_and_the_shared_one(
    stack: TerraformStack,
) -> None:
    _channel(stack).grant_consume("worker-2", 2)
    synthesized = synth(stack)
    queue_ids = _queue_ids(synthesized)
    [policy] = resources(synthesized, "aws_iam_role_policy")
    assert (policy["name"], policy["role"]) == ("tasks-worker-2-consumer", "worker-2")
    assert _statements(policy) == [
        ("Allow", list(CONSUME_ACTIONS), [queue_ids["tasks-worker-2"], queue_ids["tasks"]])
    ]


def test_without_the_shared_queue_a_worker_consumes_its_own_queue(
    stack: TerraformStack,
) -> None:
    _channel(stack, shared=False).grant_consume("worker-1", 1)
    [policy] = resources(synth(stack), "aws_iam_role_policy")
    assert policy["name"] == "tasks-worker-1-consumer"
    assert _statements(policy)[0][2] == [_queue_ids(synth(stack))["tasks-worker-1"]]


def test_a_kms_key_in_a_grant_is_named_by_its_arn(stack: TerraformStack) -> None:
    key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    queue = SqsTaskQueueProps(name="tasks", kms_key=key, **BARE)
    channel = SqsTaskChannel(stack, "Default", SqsTaskChannelProps(region=REGION, queue=queue))
    channel.grant_publish("producer")
    channel.grant_consume("worker-1", 1)
    policies = {p["name"]: p for p in resources(synth(stack), "aws_iam_role_policy")}
    assert _statements(policies["tasks-producer"])[-1] == (
        "Allow",
        ["kms:GenerateDataKey", "kms:Decrypt"],
        [key],
    )
    assert _statements(policies["tasks-worker-1-consumer"])[-1] == (
        "Allow",
        ["kms:Decrypt"],
        [key],
    )


@pytest.mark.parametrize("grantee", ["producer", "worker_template"])
def test_a_key_id_or_alias_is_refused_where_grants_would_name_it(
    stack: TerraformStack, grantee: str
) -> None:
    """IAM matches a key only by its ARN: an alias would grant nothing, silently."""
    queue = SqsTaskQueueProps(name="tasks", kms_key="alias/ml-tasks", **BARE)
    if grantee == "worker_template":
        props = SqsTaskChannelProps(region=REGION, queue=queue, worker_template="ml-{worker}")
    else:
        props = SqsTaskChannelProps(region=REGION, queue=queue, producer="ml-producer")
    with pytest.raises(LimitError) as error:
        SqsTaskChannel(stack, "Default", props)
    assert str(error.value) == (
        "test/Default: SqsTaskChannel.kms_key = 'alias/ml-tasks' is not allowed; expected"
        f" {limits.AWS_KMS_KEY_ARN.describe()} when producer or worker_template is set: IAM"
        " policies name a key by its ARN only"
    )
    SqsTaskChannel(
        stack, "Default", SqsTaskChannelProps(region=REGION, queue=queue)
    )  # no grant: fine


@pytest.mark.parametrize("worker", [0, 4])
def test_a_worker_outside_the_channel_is_refused(stack: TerraformStack, worker: int) -> None:
    channel = _channel(stack)
    with pytest.raises(LimitError) as consume:
        channel.grant_consume("worker", worker)
    assert str(consume.value) == (
        f"test/Default: SqsTaskChannel.grant_consume worker = {worker} is not allowed;"
        " expected an integer from 1 to 3"
    )
    with pytest.raises(LimitError) as wiring:
        channel.worker_wiring(worker)
    assert str(wiring.value) == (
        f"test/Default: SqsTaskChannel.worker_wiring worker = {worker} is not allowed;"
        " expected an integer from 1 to 3"
    )
    assert resources(synth(stack), "aws_iam_role_policy") == []


def test_the_producer_wiring_names_every_queue(stack: TerraformStack) -> None:
    wiring = _channel(stack).producer_wiring()
    assert type(wiring) is SqsProducerWiring
    TerraformOutput(stack, "producer", value=wiring.output())
    assert synth(stack)["output"]["producer"]["value"] == {
        "region": REGION,
        "worker_queue_urls": [_url(LOGICAL_IDS[f"tasks-worker-{n}"]) for n in (1, 2, 3)],
        "shared_queue_url": _url(LOGICAL_IDS["tasks"]),
    }


def test_a_worker_wiring_names_its_own_queue_and_the_shared_one(stack: TerraformStack) -> None:
    wiring = _channel(stack).worker_wiring(3)
    assert type(wiring) is SqsWorkerWiring
    TerraformOutput(stack, "worker", value=wiring.output())
    assert synth(stack)["output"]["worker"]["value"] == {
        "region": REGION,
        "queue_url": _url(LOGICAL_IDS["tasks-worker-3"]),
        "shared_queue_url": _url(LOGICAL_IDS["tasks"]),
    }


def test_without_the_shared_queue_the_wiring_has_none(stack: TerraformStack) -> None:
    channel = _channel(stack, shared=False)
    assert channel.producer_wiring().shared_queue_url is None
    assert channel.worker_wiring(1).shared_queue_url is None


def test_outputs_keep_the_names_users_rely_on(stack: TerraformStack) -> None:
    outputs = _channel(stack).outputs()
    assert [output.id for output in outputs] == [
        "ml_training_queue_url",
        "ml_training_queue_arn",
        "ml_training_dlq_url",
        "ml_training_dlq_arn",
        "sqs_worker_queue_urls",
    ]
    assert all(output.description for output in outputs)
    for output in outputs:
        TerraformOutput(stack, output.id, value=output.value)
    synthesized = synth(stack)
    queue_ids = _queue_ids(synthesized)
    assert {name: body["value"] for name, body in synthesized["output"].items()} == {
        "ml_training_queue_url": _url(queue_ids["tasks"]),
        "ml_training_queue_arn": _arn(queue_ids["tasks"]),
        "ml_training_dlq_url": _url(queue_ids["tasks-dlq"]),
        "ml_training_dlq_arn": _arn(queue_ids["tasks-dlq"]),
        "sqs_worker_queue_urls": [_url(queue_ids[f"tasks-worker-{n}"]) for n in (1, 2, 3)],
    }


def test_outputs_leave_out_a_dead_letter_queue_that_does_not_exist(
    stack: TerraformStack,
) -> None:
    without_dlq = SqsTaskQueueProps(name="tasks", dead_letter=False, **BARE)
    channel = SqsTaskChannel(
        stack, "Default", SqsTaskChannelProps(region=REGION, queue=without_dlq)
    )
    assert [output.id for output in channel.outputs()] == [
        "ml_training_queue_url",
        "ml_training_queue_arn",
        "sqs_worker_queue_urls",
    ]


def test_outputs_without_the_shared_queue_are_the_worker_queues(stack: TerraformStack) -> None:
    [output] = _channel(stack, shared=False).outputs()
    assert (output.id, bool(output.description)) == ("sqs_worker_queue_urls", True)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"region": "Europe"},
            "region = 'Europe' is not allowed; expected an AWS region code such as 'eu-west-1'",
        ),
        ({"workers": 0}, "workers = 0 is not allowed; expected an integer from 1 to 1000"),
        (
            {"queue": SqsTaskQueueProps(delay_seconds=901)},
            "delay_seconds = 901 is not allowed; expected an integer from 0 to 900",
        ),
        (
            {"queue": SqsTaskQueueProps(content_based_deduplication=True)},
            "content_based_deduplication = true is not allowed;"
            " expected false, or fifo = true: only FIFO queues deduplicate",
        ),
    ],
)
def test_a_bad_setting_is_refused_before_any_queue_is_made(
    stack: TerraformStack, fields: dict[str, Any], message: str
) -> None:
    props: dict[str, Any] = {"region": REGION, **fields}
    with pytest.raises(LimitError) as error:
        SqsTaskChannel(stack, "Default", SqsTaskChannelProps(**props))
    assert str(error.value) == f"test/Default: SqsTaskChannel.{message}"
    assert "resource" not in synth(stack)


def test_no_channel_policy_takes_the_name_of_a_per_queue_one(stack: TerraformStack) -> None:
    """A stack moving from per-queue policies deletes them and creates these in one apply, in
    no set order: with a shared role and name, the delete could remove the new policy."""
    channel = _channel(stack)
    channel.grant_publish("producer")
    for n in (1, 2, 3):
        channel.grant_consume(f"worker-{n}", n)
    names = {policy["name"] for policy in resources(synth(stack), "aws_iam_role_policy")}
    per_queue = {f"{queue}-{verb}" for queue in LOGICAL_IDS for verb in ("send", "consume")}
    assert len(names) == 4 and not names & per_queue


@pytest.mark.parametrize("workers", [1, 40])
def test_three_alarms_whatever_the_workers_and_none_per_queue(
    stack: TerraformStack, workers: int
) -> None:
    queue = SqsTaskQueueProps(
        name="tasks", alarm_target="arn:aws:sns:eu-west-1:123456789012:oncall"
    )
    SqsTaskChannel(
        stack, "Default", SqsTaskChannelProps(region=REGION, workers=workers, queue=queue)
    )
    synthesized = synth(stack)
    alarms = resources(synthesized, "aws_cloudwatch_metric_alarm")
    by_name = {alarm["alarm_name"]: alarm for alarm in alarms}
    assert sorted(by_name) == ["tasks-alarms-blind", "tasks-dead-letters", "tasks-oldest-task"]
    tags = {body["name"]: body["tags"] for body in resources(synthesized, "aws_sqs_queue")}
    assert len(tags) == 2 * (workers + 1)
    dead_letter_queues = {name for name in tags if name.endswith("-dlq")}
    selects = {
        "tasks-dead-letters": dead_letter_queues,
        "tasks-oldest-task": set(tags) - dead_letter_queues,
        "tasks-alarms-blind": set(tags),
    }
    for name, selected in selects.items():
        alarm = by_name[name]
        assert alarm["alarm_actions"] == [queue.alarm_target]
        [query] = alarm["metric_query"]
        assert selected_by_tags(query["expression"], tags) == selected
        assert len(query["expression"]) <= PROVIDER_EXPRESSION_LIMIT
    # An OK of the oldest-task alarm may only mean that a quiet queue stopped reporting.
    assert "ok_actions" not in by_name["tasks-oldest-task"]
    # A series per task queue: each queue is a contributor that names itself.
    oldest = by_name["tasks-oldest-task"]["metric_query"][0]["expression"]
    assert oldest.startswith('SELECT MAX(ApproximateAgeOfOldestMessage) FROM SCHEMA("AWS/SQS"')
    assert oldest.endswith(" GROUP BY QueueName ORDER BY MAX() DESC LIMIT 500")
    # Dead letters: one series, whose absence keeps the state it had.
    dead = by_name["tasks-dead-letters"]
    assert dead["ok_actions"] == [queue.alarm_target]
    expression = dead["metric_query"][0]["expression"]
    assert expression.startswith("SELECT SUM(ApproximateNumberOfMessagesVisible) FROM")
    assert "GROUP BY" not in expression
    assert (dead["threshold"], dead["comparison_operator"]) == (0, "GreaterThanThreshold")
    assert dead["treat_missing_data"] == "ignore"
    # A selection that finds nothing is itself an alarm, not a quiet OK. It counts the depth,
    # which every polled queue reports, not the age, which an empty queue does not.
    blind = by_name["tasks-alarms-blind"]
    assert blind["ok_actions"] == [queue.alarm_target]
    assert blind["metric_query"][0]["expression"].startswith(
        "SELECT COUNT(ApproximateNumberOfMessagesVisible) FROM"
    )
    assert blind["comparison_operator"] == "LessThanThreshold" and blind["threshold"] == 1
    assert blind["treat_missing_data"] == "breaching"


def test_no_dead_letter_alarm_without_dead_letter_queues(stack: TerraformStack) -> None:
    queue = SqsTaskQueueProps(name="tasks", dead_letter=False)
    SqsTaskChannel(stack, "Default", SqsTaskChannelProps(region=REGION, queue=queue))
    alarms = resources(synth(stack), "aws_cloudwatch_metric_alarm")
    assert sorted(alarm["alarm_name"] for alarm in alarms) == [
        "tasks-alarms-blind",
        "tasks-oldest-task",
    ]


def test_no_alarms_when_switched_off(stack: TerraformStack) -> None:
    _channel(stack)
    assert resources(synth(stack), "aws_cloudwatch_metric_alarm") == []


def test_an_own_topic_that_cloudwatch_may_publish_to_and_that_tells_someone(
    stack: TerraformStack,
) -> None:
    queue = SqsTaskQueueProps(name="tasks", alarm_target="own", alarm_email="oncall@example.com")
    SqsTaskChannel(stack, "Default", SqsTaskChannelProps(region=REGION, queue=queue))
    synthesized = synth(stack)
    [topic] = resources(synthesized, "aws_sns_topic")
    assert topic["name"] == "tasks-alarms"
    # Not encrypted: CloudWatch cannot use alias/aws/sns, and no other key is kept here.
    assert "kms_master_key_id" not in topic
    arn = "${aws_sns_topic.sqs_alarm_topic.arn}"
    for alarm in resources(synthesized, "aws_cloudwatch_metric_alarm"):
        assert alarm["alarm_actions"] == [arn], alarm["alarm_name"]
    [subscription] = resources(synthesized, "aws_sns_topic_subscription")
    assert subscription == {"endpoint": "oncall@example.com", "protocol": "email", "topic_arn": arn}
    [policy] = resources(synthesized, "aws_sns_topic_policy")
    assert policy["arn"] == arn
    # CloudWatch may publish for this account's alarms named after the channel, no others;
    # account, partition and region are the topic ARN's own.
    part = 'element(split(":", aws_sns_topic.sqs_alarm_topic.arn), {})'.format
    assert policy["policy"] == (
        '${jsonencode({"Version" = "2012-10-17", "Statement" = [{"Sid" ='
        ' "CloudWatchAlarmsPublish", "Effect" = "Allow", "Principal" = {"Service" ='
        ' "cloudwatch.amazonaws.com"}, "Action" = "sns:Publish", "Resource" ='
        ' aws_sns_topic.sqs_alarm_topic.arn, "Condition" = {"StringEquals" ='
        f' {{"aws:SourceAccount" = {part(4)}}}, "ArnLike" = {{"aws:SourceArn" = join(":",'
        f' ["arn", {part(1)}, "cloudwatch", {part(3)}, {part(4)}, "alarm:tasks*"])}}}}}}]}})}}'
    )
    assert all(
        alarm["alarm_name"].startswith("tasks")
        for alarm in resources(synthesized, "aws_cloudwatch_metric_alarm")
    )


def test_a_topic_arn_given_is_notified_and_no_topic_is_made(stack: TerraformStack) -> None:
    topic = "arn:aws:sns:eu-west-1:123456789012:oncall"
    queue = SqsTaskQueueProps(name="tasks", alarm_target=topic)
    SqsTaskChannel(stack, "Default", SqsTaskChannelProps(region=REGION, queue=queue))
    synthesized = synth(stack)
    assert resources(synthesized, "aws_sns_topic") == []
    assert resources(synthesized, "aws_sns_topic_subscription") == []
    for alarm in resources(synthesized, "aws_cloudwatch_metric_alarm"):
        assert alarm["alarm_actions"] == [topic]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"alarm_target": "own"},
            "SqsTaskChannel.alarm_email is unset; expected an email address such as"
            " 'oncall@example.com' with alarm_target = 'own': the stack's own destination must"
            " tell someone",
        ),
        (
            {"alarm_target": "none", "alarm_email": "oncall@example.com"},
            "SqsTaskChannel.alarm_email = 'oncall@example.com' is not allowed; expected it unset,"
            " or alarm_target = 'own': only the stack's own destination is subscribed here",
        ),
    ],
)
def test_an_email_exactly_when_the_stack_owns_the_topic(
    stack: TerraformStack, fields: dict[str, Any], expected: str
) -> None:
    queue = SqsTaskQueueProps(name="tasks", **fields)
    with pytest.raises(LimitError) as error:
        SqsTaskChannel(stack, "Default", SqsTaskChannelProps(region=REGION, queue=queue))
    assert str(error.value) == f"test/Default: {expected}"
