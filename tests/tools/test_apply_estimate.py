"""The apply estimate and the parallelism the guard gives Terraform, on plans in
`terraform show -json`'s format (tests/integration/test_local_scale.py holds the estimate to
a measured apply)."""

from __future__ import annotations

from typing import Any

import pytest

from constructs_lib.sqs.backend import PARALLELISM, QUEUE_WAITS
from tools.apply_estimate import (
    MAX_PARALLELISM,
    TERRAFORM_PARALLELISM,
    ParallelismError,
    estimate,
    parallelism,
)

WAIT = QUEUE_WAITS["create"]


def _plan(workers: int) -> dict[str, Any]:
    """`workers` queues, each naming its DLQ's ARN, and an alarm that waits for nothing."""
    changes: list[dict[str, Any]] = []
    resources: list[dict[str, Any]] = []
    for n in range(1, workers + 1):
        queue, dlq = f"aws_sqs_queue.q{n}", f"aws_sqs_queue.q{n}_dlq"
        for address in (queue, dlq):
            changes.append(
                {
                    "address": address,
                    "mode": "managed",
                    "type": "aws_sqs_queue",
                    "change": {"actions": ["create"]},
                }
            )
        resources.append(
            {
                "address": queue,
                "expressions": {"redrive_policy": {"references": [f"{dlq}.arn", dlq]}},
            }
        )
        resources.append({"address": dlq, "expressions": {"name": {"constant_value": "d"}}})
    changes.append(
        {
            "address": "aws_cloudwatch_metric_alarm.a",
            "mode": "managed",
            "type": "aws_cloudwatch_metric_alarm",
            "change": {"actions": ["create"]},
        }
    )
    return {"resource_changes": changes, "configuration": {"root_module": {"resources": resources}}}


def test_few_changes_take_their_longest_chain() -> None:
    """Two queues and their DLQs at 50 at once: the DLQ, then the queue that names it."""
    found = estimate(_plan(1), 50)
    assert (found.waiting, found.chain_seconds, found.seconds) == (2, 2 * WAIT, 2 * WAIT)


def test_many_changes_take_their_total_over_the_parallelism() -> None:
    found = estimate(_plan(100), 50)
    assert found.waiting == 200
    assert found.seconds == pytest.approx(200 * WAIT / 50)
    assert found.line() == (
        f"estimated apply: about {200 * WAIT / 50 / 60:.0f} min (200 changes that wait,"
        f" 50 at a time; longest chain of waits {2 * WAIT:.0f} s)"
    )


def test_a_replace_waits_for_the_delete_and_the_create() -> None:
    plan = _plan(1)
    plan["resource_changes"][1]["change"]["actions"] = ["delete", "create"]  # the DLQ
    found = estimate(plan, 10)
    assert found.chain_seconds == QUEUE_WAITS["delete"] + 2 * QUEUE_WAITS["create"]


def test_changes_that_do_not_wait_are_not_counted() -> None:
    plan = {"resource_changes": _plan(0)["resource_changes"]}
    found = estimate(plan, 10)
    assert (found.waiting, found.seconds) == (0, 0.0)
    assert found.line().startswith("estimated apply: under a minute")


def test_the_stack_s_parallelism_comes_from_the_backends_in_it() -> None:
    assert parallelism({"resource": {"aws_sqs_queue": {}}}, None) == PARALLELISM
    # A stack without SQS: nothing sets a quota, Terraform's default stays.
    assert parallelism({"resource": {"rabbitmq_queue": {}}}, None) == TERRAFORM_PARALLELISM
    assert parallelism({"resource": {"aws_sqs_queue": {}}}, " 7 ") == 7


@pytest.mark.parametrize("value", ["0", "-3", "ten", "2.5", str(MAX_PARALLELISM + 1)])
def test_an_operator_s_parallelism_out_of_range_is_refused_in_one_line(value: str) -> None:
    with pytest.raises(ParallelismError) as error:
        parallelism({"resource": {"aws_sqs_queue": {}}}, value)
    assert str(error.value) == (
        f"PARALLELISM = {value!r} is not allowed; expected a whole number from 1 to"
        f" {MAX_PARALLELISM} (unset: {PARALLELISM}, from the backends' API quotas)"
    )
