"""One channel shape on every backend: N worker addresses, an optional shared one, grants
and wiring.

Why one shape: the stack should not know how SQS, Pub/Sub or RabbitMQ route a task to a
worker. It builds one channel per enabled backend and, for each, runs the same loop: grant
the producer, grant each worker, output the wiring. A fourth backend is a new class with
these members, not a new branch in the stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from constructs_lib import limits
from constructs_lib.wiring import Wiring


def worker_index(worker: int, workers: int, *, method: str, where: str) -> int:
    """Worker `worker`'s list index in a channel of `workers` workers.

    Workers are numbered from 1 on every backend; a number outside them would grant or wire
    another worker's address, or none, so `method` (`Owner.method`) refuses it in one line
    naming the construct's path `where`.
    """
    allowed = limits.IntRange(1, workers)
    if not allowed.allows(worker):
        raise limits.LimitError(
            f"{where}: {method} worker = {worker!r} is not allowed; expected {allowed.describe()}"
        )
    return worker - 1


@dataclass(frozen=True)
class ChannelOutput:
    """A stack output the channel offers, under a stack-level name that users rely on."""

    id: str
    value: object
    description: str


class TaskChannel(Protocol):
    """Training tasks from one producer to N workers on one backend."""

    @property
    def worker_addresses(self) -> list[str]:
        """Where worker n (list index n - 1) takes its own tasks from."""
        ...

    @property
    def shared_address(self) -> str | None:
        """Where any worker may take tasks addressed to nobody in particular; None: none."""
        ...

    def grant_publish(self, principal: str) -> None:
        """Let `principal` send tasks to every worker and the shared address, and nothing else.
        Call it once per channel."""
        ...

    def grant_consume(self, principal: str, worker: int) -> None:
        """Let `principal` take worker `worker`'s tasks (and the shared ones), nothing else."""
        ...

    def producer_wiring(self) -> Wiring: ...

    def worker_wiring(self, worker: int) -> Wiring: ...

    def outputs(self) -> list[ChannelOutput]:
        """The backend's own stack outputs, besides the wiring."""
        ...
