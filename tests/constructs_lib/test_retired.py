"""Retired addresses: the ids written in Python are cdktf's own, and each becomes a `removed`
block that forgets without destroying (constructs_lib/retired.py says why)."""

from __future__ import annotations

import pytest
from cdktf import TerraformStack
from constructs import Construct

from constructs_lib.providers import SqsQueue
from constructs_lib.retired import logical_id, retire
from tests.synth_helpers import synth

PATHS = [
    ["queue"],
    ["Default", "queue"],
    ["Default", "sqs_worker_12_queue", "redrive_allow_policy"],
    ["tasks", "Resource", "policy"],
    ["queue", "queue"],  # a component that ends the one before it is left out of the name
    ["a-b.c", "d e"],  # characters a Terraform name cannot hold
    ["x" * 200, "y" * 100],  # longer than the readable part allows
    ["z" * 256],  # one component, too long to stand alone
]


@pytest.mark.parametrize("path", PATHS, ids=lambda path: "/".join(path)[:40])
def test_the_logical_id_is_the_one_cdktf_gives(stack: TerraformStack, path: list[str]) -> None:
    scope: Construct = stack
    for part in path[:-1]:
        scope = Construct(scope, part)
    resource = SqsQueue(scope, path[-1], name="q")
    assert logical_id(path) == resource.friendly_unique_id


def test_a_path_needs_a_component_below_the_stack() -> None:
    with pytest.raises(ValueError):
        logical_id(["Default"])


def test_retired_addresses_are_forgotten_once_each_in_order(stack: TerraformStack) -> None:
    inner = Construct(Construct(stack, "Default"), "tasks")
    second = retire(inner, "aws_sqs_queue_policy", "queue_policy")
    first = retire(stack, "aws_sqs_queue_redrive_policy", "redrive_policy")
    assert retire(inner, "aws_sqs_queue_policy", "queue_policy") == second
    assert first == "aws_sqs_queue_redrive_policy.redrive_policy"
    assert second.startswith("aws_sqs_queue_policy.tasks_queue_policy_")
    assert synth(stack)["removed"] == [
        {"from": second, "lifecycle": {"destroy": False}},
        {"from": first, "lifecycle": {"destroy": False}},
    ]
