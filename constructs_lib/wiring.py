"""What a producer and each worker need from a channel, per backend, as typed classes.

Why typed: the stacks output these as one value per producer and worker, `make worker-env`
turns them into `.env` lines, and the docs examples read those variables. With the names
declared here once, the three cannot drift: a renamed field renames the variable everywhere,
and a test holds the examples to these names.

No cdktf import here: `make worker-env` reads deployed state and needs no jsii runtime.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class Wiring:
    """`BACKEND` is the key in the wiring output, `ENV_PREFIX` starts each variable name."""

    BACKEND: ClassVar[str]
    ENV_PREFIX: ClassVar[str]

    def output(self) -> dict[str, Any]:
        """The value of this backend's part of a wiring output."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Field name -> the `.env` variable `make worker-env` prints for it."""
        return {
            field.name: f"{cls.ENV_PREFIX}_{field.name.upper()}"
            for field in dataclasses.fields(cls)
        }


@dataclass(frozen=True, kw_only=True)
class _Sqs(Wiring):
    BACKEND: ClassVar[str] = "sqs"
    ENV_PREFIX: ClassVar[str] = "SQS"
    region: str
    shared_queue_url: str | None


@dataclass(frozen=True, kw_only=True)
class SqsProducerWiring(_Sqs):
    worker_queue_urls: list[str]


@dataclass(frozen=True, kw_only=True)
class SqsWorkerWiring(_Sqs):
    queue_url: str


@dataclass(frozen=True, kw_only=True)
class _PubSub(Wiring):
    BACKEND: ClassVar[str] = "pubsub"
    ENV_PREFIX: ClassVar[str] = "PUBSUB"


@dataclass(frozen=True, kw_only=True)
class PubSubProducerWiring(_PubSub):
    topic: str | None
    worker_topics: list[str]


@dataclass(frozen=True, kw_only=True)
class PubSubWorkerWiring(_PubSub):
    subscription: str
    shared_subscription: str | None


@dataclass(frozen=True, kw_only=True)
class _RabbitMq(Wiring):
    BACKEND: ClassVar[str] = "rabbitmq"
    ENV_PREFIX: ClassVar[str] = "AMQP"
    vhost: str
    exchange: str
    user: str | None
    # The SSM parameter holding the user's password (`password_store = "ssm"`), never the
    # password itself.
    password_parameter: str | None


@dataclass(frozen=True, kw_only=True)
class RabbitMqProducerWiring(_RabbitMq):
    routing_keys: list[str]


@dataclass(frozen=True, kw_only=True)
class RabbitMqWorkerWiring(_RabbitMq):
    queue: str


PRODUCER: Mapping[str, type[Wiring]] = {
    wiring.BACKEND: wiring
    for wiring in (SqsProducerWiring, PubSubProducerWiring, RabbitMqProducerWiring)
}
WORKER: Mapping[str, type[Wiring]] = {
    wiring.BACKEND: wiring for wiring in (SqsWorkerWiring, PubSubWorkerWiring, RabbitMqWorkerWiring)
}


def output(wirings: list[Wiring]) -> dict[str, dict[str, Any]]:
    """One producer's or worker's output value: each backend's wiring under its key."""
    return {wiring.BACKEND: wiring.output() for wiring in wirings}


def env_lines(value: Mapping[str, Mapping[str, Any]], *, producer: bool) -> list[str]:
    """A deployed wiring output as `.env` lines; unset values are left out, lists joined
    with commas. A backend these classes do not know is an error, not a silent gap."""
    classes = PRODUCER if producer else WORKER
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
