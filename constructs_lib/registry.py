"""The backends, declared once: everything that loops over SQS, Pub/Sub and RabbitMQ loops here.

Why: a backend used to be threaded by hand through the config loader, the stack, the wiring
maps, the task-holding types, the plan guard and the docs, 21 places in 9 files. Each
backend now declares what those need in its own package (`<backend>/backend.py`), and this
module lists the declarations. A new backend is a package plus one line in `BACKENDS`.

No jsii here: the config loader, the plan guard and `make worker-env` read the registry
without loading cdktf. Only `Backend.build`, which adds a backend to a stack, loads it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from constructs_lib.backend_spec import EMULATOR, TERRAFORM, Backend
from constructs_lib.pubsub.backend import BACKEND as PUBSUB
from constructs_lib.rabbitmq.backend import BACKEND as RABBITMQ
from constructs_lib.sqs.backend import BACKEND as SQS
from constructs_lib.wiring import Wiring

BACKENDS: tuple[Backend, ...] = (SQS, PUBSUB, RABBITMQ)


def backends() -> Iterator[Backend]:
    """The registered backends, in the order the stack builds them. A function rather than
    the tuple itself, so that a test can register one more (`BACKENDS` patched) and every
    caller sees it."""
    yield from BACKENDS


def ways(backend: Backend) -> tuple[str, ...]:
    """How the backend's part may reach an environment: through Terraform, and into its
    emulator if it declares one."""
    return (TERRAFORM, EMULATOR) if backend.emulator is not None else (TERRAFORM,)


def part(enabled: Mapping[str, Any], deploy: Mapping[str, str], way: str) -> dict[str, Any]:
    """The enabled backends' props (by key; None: not in this part) that reach the
    environment `way`: TERRAFORM, the stack Terraform plans and applies, or EMULATOR, the
    part loaded into local emulators. `deploy` says each enabled backend's way (unsaid:
    TERRAFORM).

    Why here, once: Terraform installs a provider for every backend in its stack, and only
    the AWS provider can be installed on some machines (offline, from a mirror); so what
    Terraform sees of an environment is exactly its backends deployed through it, and every
    command that plans, applies or synthesizes gets that part from this one function.
    """
    return {
        backend.key: props
        if props is not None and deploy.get(backend.key, TERRAFORM) == way
        else None
        for backend in backends()
        for props in [enabled.get(backend.key)]
    }


def task_holding_types() -> frozenset[str]:
    return frozenset().union(*(backend.task_holding_types for backend in backends()))


def wirings(*, producer: bool) -> dict[str, type[Wiring]]:
    return {
        backend.key: backend.producer_wiring if producer else backend.worker_wiring
        for backend in backends()
    }


def env_lines(value: Mapping[str, Mapping[str, Any]], *, producer: bool) -> list[str]:
    """A deployed wiring output as `.env` lines; unset values are left out, lists joined
    with commas. A backend the registry does not know is an error, not a silent gap."""
    classes = wirings(producer=producer)
    lines = []
    for backend in sorted(value):
        if backend not in classes:
            raise KeyError(f"unknown backend {backend!r} in the wiring output")
        for name, variable in classes[backend].variables().items():
            item = value[backend].get(name)
            if item is None:
                continue
            text = ",".join(map(str, item)) if isinstance(item, list) else str(item)
            lines.append(f"{variable}={text}")
    return lines
