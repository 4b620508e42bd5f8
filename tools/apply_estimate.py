"""How long an apply will take, and how many changes Terraform should run at once.

Why: an apply's time is set by the resources whose provider waits after each change (an
SQS queue: about 26 s), not by the resource count. With W such changes of s seconds each
and P running at once, the apply takes at least W * s / P; and a change that needs another
one's result (a queue names its dead-letter queue's ARN) starts only when that one is done,
so it takes at least its longest chain of waits. The estimate is the larger of the two.
What waits, how long, and how many at once the API allows, each backend declares
(`Backend.pace`); the plan gives the changes and their references.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from constructs_lib.registry import backends

# Terraform's own default for -parallelism, where no backend in the stack sets one.
TERRAFORM_PARALLELISM = 10
# What an operator may ask for: Terraform takes any positive number; beyond this no quota
# above holds and the provider's own retries would do the pacing.
MAX_PARALLELISM = 500
PARALLELISM_VARIABLE = "PARALLELISM"


class ParallelismError(ValueError):
    """An operator's PARALLELISM that Terraform should not be given."""


@dataclass(frozen=True)
class Estimate:
    """The seconds an apply will take, and what they come from."""

    seconds: float
    waiting: int
    parallelism: int
    chain_seconds: float

    def line(self) -> str:
        if not self.waiting:
            return (
                f"estimated apply: under a minute (no change waits; parallelism {self.parallelism})"
            )
        minutes = self.seconds / 60
        told = f"about {minutes:.0f} min" if minutes >= 1.5 else f"about {self.seconds:.0f} s"
        return (
            f"estimated apply: {told} ({self.waiting} changes that wait, {self.parallelism}"
            f" at a time; longest chain of waits {self.chain_seconds:.0f} s)"
        )


def _waits() -> dict[str, Mapping[str, float]]:
    return {
        kind: seconds
        for backend in backends()
        if backend.pace is not None
        for kind, seconds in backend.pace.waits.items()
    }


def stack_parallelism(stack: Mapping[str, Any]) -> int:
    """The most changes at once that every backend present in `stack` allows."""
    types = stack.get("resource", {}).keys()
    allowed = [
        backend.pace.parallelism
        for backend in backends()
        if backend.pace is not None
        and any(kind.startswith(f"{backend.provider}_") for kind in types)
    ]
    return min(allowed) if allowed else TERRAFORM_PARALLELISM


def parallelism(stack: Mapping[str, Any], override: str | None) -> int:
    """The stack's parallelism, or the operator's `PARALLELISM` when it is set."""
    if override is None or not override.strip():
        return stack_parallelism(stack)
    text = override.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_PARALLELISM:
        raise ParallelismError(
            f"{PARALLELISM_VARIABLE} = {override!r} is not allowed; expected a whole number"
            f" from 1 to {MAX_PARALLELISM} (unset: {stack_parallelism(stack)}, from the"
            " backends' API quotas)"
        )
    return int(text)


def _seconds(kind: str, actions: Iterable[str], waits: Mapping[str, Mapping[str, float]]) -> float:
    table = waits.get(kind, {})
    return sum(table.get(action, 0.0) for action in actions)


def _references(node: Any) -> Iterator[str]:
    """Every `references` entry anywhere in a plan's configuration expressions."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "references" and isinstance(value, list):
                yield from (item for item in value if isinstance(item, str))
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def estimate(plan: Mapping[str, Any], parallel: int) -> Estimate:
    """The apply of `plan` (`terraform show -json`) at `parallel` changes at once."""
    waits = _waits()
    cost: dict[str, float] = {}
    for item in plan.get("resource_changes", []):
        seconds = _seconds(item["type"], item["change"]["actions"], waits)
        if item.get("mode") == "managed" and seconds:
            cost[item["address"]] = seconds
    needs: dict[str, set[str]] = {}
    for resource in plan.get("configuration", {}).get("root_module", {}).get("resources", []):
        address = resource.get("address")
        if address in cost:
            named = set(_references(resource.get("expressions", {})))
            named.update(resource.get("depends_on", []))
            needs[address] = {other for other in cost if other in named and other != address}
    chain: dict[str, float] = {}

    def longest(address: str) -> float:
        if address not in chain:
            chain[address] = 0.0  # a cycle Terraform would refuse; never counted twice
            chain[address] = cost[address] + max(
                (longest(other) for other in needs.get(address, ())), default=0.0
            )
        return chain[address]

    critical = max((longest(address) for address in cost), default=0.0)
    total = sum(cost.values())
    return Estimate(max(total / parallel, critical), len(cost), parallel, critical)
