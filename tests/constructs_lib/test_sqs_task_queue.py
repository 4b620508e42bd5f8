from __future__ import annotations

import re

import pytest
from cdktf import TerraformOutput, TerraformStack, Testing

from constructs_lib.limits import LimitError
from constructs_lib.providers import SqsQueue
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
    SqsTaskQueue(stack, "queue")
    synthesized = Testing.synth(stack)
    assert Testing.to_have_resource_with_properties(synthesized, SqsQueue.TF_RESOURCE_TYPE, SEED)
    assert resources(synth(stack), SqsQueue.TF_RESOURCE_TYPE) == [SEED]


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
    SqsTaskQueue(stack, "low", name="low", **{field: low})
    SqsTaskQueue(stack, "high", name="high", **{field: high})
    for bad in (low - 1, high + 1):
        with pytest.raises(LimitError) as error:
            SqsTaskQueue(stack, f"bad{bad}", name="bad", **{field: bad})
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
    SqsTaskQueue(stack, "queue", name="a-" * 39 + "_z")
    assert resources(synth(stack), SqsQueue.TF_RESOURCE_TYPE)[0]["name"] == "a-" * 39 + "_z"
