from __future__ import annotations

import re
from typing import Any

import pytest
from cdktf import TerraformOutput, TerraformStack, Testing

from constructs_lib.limits import LimitError
from constructs_lib.providers import SqsQueue, SqsQueueRedriveAllowPolicy, SqsQueueRedrivePolicy
from constructs_lib.sqs_task_queue import SqsTaskQueue
from tests.synth_helpers import resources, synth

SEED = {
    "name": "mlTrainingQueue",
    "delay_seconds": 90,
    "max_message_size": 262144,
    "message_retention_seconds": 86400,
    "receive_wait_time_seconds": 10,
    "visibility_timeout_seconds": 30,
}


def test_defaults_are_the_seed_values(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "queue", dead_letter_queue=False)
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
    assert source == SEED
    assert dlq["message_retention_seconds"] == 1_209_600 > source["message_retention_seconds"]
    assert "delay_seconds" not in dlq  # a dead task is inspected at once
    [redrive] = resources(synthesized, SqsQueueRedrivePolicy.TF_RESOURCE_TYPE)
    assert redrive == {
        "queue_url": f"${{aws_sqs_queue.{source_id}.url}}",
        "redrive_policy": '${jsonencode({"deadLetterTargetArn" = '
        f'aws_sqs_queue.{dlq_id}.arn, "maxReceiveCount" = 5}})}}',
    }
    [allow] = resources(synthesized, SqsQueueRedriveAllowPolicy.TF_RESOURCE_TYPE)
    assert allow == {
        "queue_url": f"${{aws_sqs_queue.{dlq_id}.url}}",
        "redrive_allow_policy": '${jsonencode({"redrivePermission" = "byQueue", '
        f'"sourceQueueArns" = [aws_sqs_queue.{source_id}.arn]}})}}',
    }


def test_the_redrive_allow_policy_can_be_left_out_for_emulators(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "tasks", dead_letter_sources_only=False)
    synthesized = synth(stack)
    assert SqsQueueRedriveAllowPolicy.TF_RESOURCE_TYPE not in synthesized["resource"]
    assert len(resources(synthesized, SqsQueueRedrivePolicy.TF_RESOURCE_TYPE)) == 1


def test_exposes_the_dead_letter_queue_only_when_there_is_one(stack: TerraformStack) -> None:
    with_dlq = SqsTaskQueue(stack, "with", name="a")
    without = SqsTaskQueue(stack, "without", name="b", dead_letter_queue=False)
    assert with_dlq.dead_letter_queue_url is not None
    assert with_dlq.dead_letter_queue_arn is not None
    assert (without.dead_letter_queue_url, without.dead_letter_queue_arn) == (None, None)


@pytest.mark.parametrize("count", [0, 1001])
def test_max_receive_count_within_what_sqs_accepts(stack: TerraformStack, count: int) -> None:
    with pytest.raises(LimitError) as error:
        SqsTaskQueue(stack, "tasks", max_receive_count=count)
    assert str(error.value) == (
        f"environment 'test': SqsTaskQueue.max_receive_count = {count} is not allowed;"
        " expected an integer from 1 to 1000"
    )


def test_dead_letters_are_kept_at_least_as_long_as_tasks(stack: TerraformStack) -> None:
    with pytest.raises(LimitError) as error:
        SqsTaskQueue(
            stack, "tasks", message_retention_seconds=86_400, dead_letter_retention_seconds=3600
        )
    assert "dead_letter_retention_seconds (at least the queue's retention) = 3600" in str(
        error.value
    )
    assert "expected an integer from 86400 to 1209600" in str(error.value)


def test_the_dead_letter_queue_name_must_fit_too(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "fits", name="q" * 76)
    with pytest.raises(LimitError, match=r"SqsTaskQueue DLQ name = 'q{77}-dlq' is not allowed"):
        SqsTaskQueue(stack, "too_long", name="q" * 77)


def test_exposes_url_and_arn_of_the_queue(stack: TerraformStack) -> None:
    queue = SqsTaskQueue(stack, "queue", name="q")
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
        setting: dict[str, Any] = {field: accepted}
        SqsTaskQueue(stack, f"ok{accepted}", name=f"ok{accepted}", **setting)
    for bad in (low - 1, high + 1):
        setting = {field: bad}
        with pytest.raises(LimitError) as error:
            SqsTaskQueue(stack, f"bad{bad}", name="bad", **setting)
        assert str(error.value) == (
            f"environment 'test': SqsTaskQueue.{field} = {bad} is not allowed;"
            f" expected an integer from {low} to {high}"
        )


def test_rejects_a_bool_where_a_number_belongs(stack: TerraformStack) -> None:
    with pytest.raises(LimitError, match="delay_seconds = True"):
        SqsTaskQueue(stack, "queue", delay_seconds=True)


@pytest.mark.parametrize("name", ["", "a" * 81, "has space", "dot.fifo", "ümlaut"])
def test_rejects_names_sqs_would_refuse(stack: TerraformStack, name: str) -> None:
    with pytest.raises(LimitError, match=r"SqsTaskQueue\.name = .* 1 to 80 characters"):
        SqsTaskQueue(stack, "queue", name=name)


def test_accepts_the_longest_valid_name(stack: TerraformStack) -> None:
    SqsTaskQueue(stack, "queue", name="a-" * 39 + "_z", dead_letter_queue=False)
    assert resources(synth(stack), SqsQueue.TF_RESOURCE_TYPE)[0]["name"] == "a-" * 39 + "_z"
