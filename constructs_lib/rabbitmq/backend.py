"""RabbitMQ in the backend registry: its wiring, task-holding types and build step; no jsii."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from constructs_lib.backend_spec import Backend
from constructs_lib.rabbitmq.props import RabbitMqTaskExchangeProps
from constructs_lib.wiring import Wiring


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


BACKEND = Backend(
    key="rabbitmq",
    props=RabbitMqTaskExchangeProps,
    switch="`false` leaves out the RabbitMQ provider and every RabbitMQ resource",
    task_holding_types=frozenset({"rabbitmq_vhost", "rabbitmq_exchange", "rabbitmq_queue"}),
    producer_wiring=RabbitMqProducerWiring,
    worker_wiring=RabbitMqWorkerWiring,
    builder="constructs_lib.rabbitmq.build:build",
    title="RabbitMQ",
    provider="rabbitmq",
    task_counter="constructs_lib.rabbitmq.tasks:counter",
    unique=("vhost",),
    emulator="a RabbitMQ node (from its definitions: `make rabbitmq-definitions`)",
)
