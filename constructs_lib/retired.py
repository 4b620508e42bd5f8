"""Addresses a construct no longer declares, forgotten by Terraform rather than destroyed.

Why: when a refactor folds a resource into another one's arguments (an SQS queue policy into
the queue's `policy`), the old resource must leave state without its delete running: that
delete writes the same attribute the queue now owns, and Terraform orders it before the
queue's update (docs/destroying.md in hashicorp/terraform: "an object being deleted must
still be destroyed before updating an object on which it depended"). When the queue's
argument equals what is already there, the update writes nothing, and the queue ends up
without the policy. A `removed` block with `destroy = false` (Terraform 1.7+) drops the old
address from state and leaves the queue as it is; for an address not in state it does
nothing, so the same JSON serves new and old deployments.

The old logical id is the one cdktf gave the resource at its construct path. cdktf computes
it in its node process (`makeUniqueId`, the default `HashedAddressingScheme`); asking it
through jsii for every retired address cost 12 s at 1,000 workers, so the same rule is
written here, and tests/constructs_lib/test_retired.py holds it to cdktf's own answer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from cdktf import TerraformElement, TerraformStack
from constructs import Construct

# cdktf's makeUniqueId (cdktf/lib/private/unique.ts).
_HIDDEN = "Default"
_HIDDEN_FROM_HUMANS = "Resource"
_MAX_ID = 255
_MAX_HUMAN = 240
_HASH_LENGTH = 8
_ELEMENT_ID = "retired_addresses"


def _allowed(component: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "", component)


def logical_id(components: Sequence[str]) -> str:
    """The logical id cdktf gives an element at `components`, the ids below its stack."""
    parts = [part for part in components if part != _HIDDEN]
    if not parts:
        raise ValueError("a logical id needs at least one construct id below the stack")
    if len(parts) == 1 and len(_allowed(parts[0])) <= _MAX_ID:
        return _allowed(parts[0])
    digest = hashlib.md5("/".join(parts).encode(), usedforsecurity=False).hexdigest()
    human: list[str] = []
    for part in parts:
        if not human or not human[-1].endswith(part):
            human.append(part)
    readable = "_".join(_allowed(part) for part in human if part != _HIDDEN_FROM_HUMANS)
    return f"{readable[:_MAX_HUMAN]}_{digest[:_HASH_LENGTH].upper()}"


class _RetiredAddresses(TerraformElement):
    """One per stack: the `removed` blocks of every address retired in it, sorted."""

    def __init__(self, stack: TerraformStack) -> None:
        super().__init__(stack, _ELEMENT_ID)
        self.addresses: set[str] = set()

    def to_terraform(self) -> Any:
        return {
            "removed": [
                {"from": address, "lifecycle": {"destroy": False}}
                for address in sorted(self.addresses)
            ]
        }


def retire(scope: Construct, resource_type: str, id: str) -> str:
    """Forget, without destroying, the `resource_type` that `scope` once made with `id`.

    Returns the address, for the ledger and the tests."""
    stack = TerraformStack.of(scope)
    found = stack.node.try_find_child(_ELEMENT_ID)
    element = found if isinstance(found, _RetiredAddresses) else _RetiredAddresses(stack)
    stack_depth = len(stack.node.path.split("/")) if stack.node.path else 0
    below_stack = scope.node.path.split("/")[stack_depth:]
    address = f"{resource_type}.{logical_id([*below_stack, id])}"
    element.addresses.add(address)
    return address
