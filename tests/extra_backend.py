"""A minimal fourth backend, registered by tests only, to prove that the registry is the one
place a backend is declared: it holds its "tasks" in `terraform_data`, which needs no
provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from constructs_lib import limits
from constructs_lib.backend_spec import AppStack, Backend, Principals, from_template
from constructs_lib.channel import ChannelOutput
from constructs_lib.props import FromEnvironment, setting
from constructs_lib.wiring import Wiring


@dataclass(frozen=True, kw_only=True)
class LedgerProps:
    """The `[ledger]` table."""

    shelf: str = setting("tasks", rule=limits.NameRule("[a-z]{1,20}", "1 to 20 a-z"), meaning="x")
    workers: int = setting(
        3, rule=limits.WORKER_COUNT, from_environment=FromEnvironment("workers"), meaning="y"
    )


@dataclass(frozen=True, kw_only=True)
class LedgerProducerWiring(Wiring):
    BACKEND: ClassVar[str] = "ledger"
    ENV_PREFIX: ClassVar[str] = "LEDGER"
    shelves: list[str]


@dataclass(frozen=True, kw_only=True)
class LedgerWorkerWiring(Wiring):
    BACKEND: ClassVar[str] = "ledger"
    ENV_PREFIX: ClassVar[str] = "LEDGER"
    shelf: str


class LedgerChannel:
    def __init__(self, stack: AppStack, props: LedgerProps) -> None:
        from cdktf import TerraformResource  # noqa: PLC0415

        self._shelves = [f"{props.shelf}-{stack.name_suffix}-{n}" for n in range(props.workers)]
        for n, shelf in enumerate(self._shelves, start=1):
            shelf_resource = TerraformResource(
                stack.construct, f"ledger_{n}", terraform_resource_type="terraform_data"
            )
            shelf_resource.add_override("input", shelf)

    @property
    def worker_addresses(self) -> list[str]:
        return self._shelves

    @property
    def shared_address(self) -> str | None:
        return None

    def grant_publish(self, principal: str) -> None:
        """Nothing to grant: the shelves are open."""

    def grant_consume(self, principal: str, worker: int) -> None:
        """Nothing to grant: the shelves are open."""

    def producer_wiring(self) -> LedgerProducerWiring:
        return LedgerProducerWiring(shelves=self._shelves)

    def worker_wiring(self, worker: int) -> LedgerWorkerWiring:
        return LedgerWorkerWiring(shelf=self._shelves[worker - 1])

    def outputs(self) -> list[ChannelOutput]:
        return []


def build(stack: AppStack, props: LedgerProps) -> tuple[LedgerChannel, Principals]:
    return LedgerChannel(stack, props), Principals(None, from_template(None))


BACKEND = Backend(
    key="ledger",
    props=LedgerProps,
    switch="`false` leaves out the ledger",
    task_holding_types=frozenset({"terraform_data"}),
    producer_wiring=LedgerProducerWiring,
    worker_wiring=LedgerWorkerWiring,
    builder="tests.extra_backend:build",
    title="Ledger",
    provider="terraform",
)
