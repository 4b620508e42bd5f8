"""What a backend declares for the app (see constructs_lib/registry.py). No jsii here."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from constructs_lib.wiring import Wiring

# How a backend's part reaches an environment (its table's `deploy` key): through the
# environment's Terraform stack, or loaded into a local emulator, which Terraform never sees.
TERRAFORM = "terraform"
EMULATOR = "emulator"

if TYPE_CHECKING:
    from constructs import Construct

    from constructs_lib.channel import TaskChannel
    from constructs_lib.stack_providers import StackProviders


@dataclass(frozen=True)
class ApplyPace:
    """What a backend's API makes an apply cost, for `make plan`'s estimate and parallelism.

    `waits`: per resource type and action (`create`, `update`, `delete`), the seconds its
    provider waits after the call before it reports the change done.
    `parallelism`: how many changes Terraform may run at once without the backend's API
    quotas throttling them; the backend module says where the figure comes from.
    """

    waits: Mapping[str, Mapping[str, float]]
    parallelism: int


@dataclass(frozen=True)
class Backend:
    """What one backend brings to the app.

    `key`: its config table and its key in the wiring outputs.
    `props`: the props dataclass its config table is read into.
    `switch`: what `enabled = false` leaves out, for the config reference.
    `task_holding_types`: Terraform types that hold tasks, or drop the tasks inside them when
    they go: what `prevent_destroy` protects and what the plan guard counts before a delete.
    `producer_wiring`, `worker_wiring`: what the producer and each worker need, as `.env`.
    `builder`: `module:function` of the step that adds the backend to an app stack; it is
    imported only when a stack is built, so that reading the registry needs no jsii.
    `unique`: props fields that two environments must not share (they would overwrite each
    other's resources).
    `title`, `provider`: how the diagram names the backend, and the Terraform provider its
    resources' types start with (`aws` for `aws_sqs_queue`).
    `task_counter`: `module:function` that, given the synthesized stack and the environment,
    returns how to count the tasks in one of its task-holding resources before the plan
    guard lets it go (None: it cannot count here, and the guard refuses the change unless
    the operator allows it). Imported only by the guard.
    `emulator`: the local emulator an environment may load the backend's part into instead of
    deploying it through Terraform (`deploy = "emulator"`), and what loads it; None: through
    Terraform only.
    `pace`: how an apply of its resources goes (None: its provider does not wait, and its
    API sets Terraform's parallelism no limit).
    """

    key: str
    props: type
    switch: str
    task_holding_types: frozenset[str]
    producer_wiring: type[Wiring]
    worker_wiring: type[Wiring]
    builder: str
    title: str
    provider: str
    unique: tuple[str, ...] = ()
    task_counter: str | None = None
    emulator: str | None = None
    pace: ApplyPace | None = None

    def build(self) -> Callable[..., Any]:
        """The build step (see `stacks.ml_queues_stack`); this import loads jsii."""
        return _imported(self.builder)

    def counter(self, stack: Mapping[str, Any], env: Mapping[str, str]) -> TaskCounter | None:
        """How to count the tasks in this backend's resources of `stack`, if it can here."""
        if self.task_counter is None:
            return None
        made: TaskCounter | None = _imported(self.task_counter)(stack, env)
        return made


def _imported(reference: str) -> Callable[..., Any]:
    module, _, function = reference.partition(":")
    found: Callable[..., Any] = getattr(importlib.import_module(module), function)
    return found


# The tasks one resource holds, from its type and its state before the change; None: unknown.
TaskCounter = Callable[[str, Mapping[str, Any]], int | None]


@dataclass(frozen=True)
class Principals:
    """Who uses a channel: the producer's principal, and worker n's (None: grant nothing)."""

    producer: str | None
    worker: Callable[[int], str | None]


def from_template(template: str | None) -> Callable[[int], str | None]:
    """'ml-worker-{worker}' -> worker n's principal; None: workers get no grant."""
    return lambda n: template.replace("{worker}", str(n)) if template is not None else None


class AppStack(Protocol):
    """What the app's stack offers a build step: where to build, the names and counts the
    environment sets, and the providers it makes once."""

    @property
    def construct(self) -> Construct: ...

    @property
    def environment(self) -> str: ...

    @property
    def name_suffix(self) -> str: ...

    @property
    def workers(self) -> int: ...

    @property
    def providers(self) -> StackProviders: ...


# A build step: the backend's channel in `stack`, from its config table's props.
Build = Callable[["AppStack", Any], tuple["TaskChannel", Principals]]
