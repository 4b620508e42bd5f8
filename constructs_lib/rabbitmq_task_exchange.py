"""A RabbitMQ direct exchange with one durable queue per worker, for routed training tasks."""

from __future__ import annotations

from constructs import Construct

from constructs_lib import limits
from constructs_lib.rabbitmq_bindings import (
    Binding,
    Exchange,
    ExchangeSettings,
    Queue,
    QueueSettings,
)


class RabbitMqTaskExchange(Construct):
    """Exchange `ml_tasks` (direct, durable) and queues `worker_queue_1..N`, as in the seed.

    Each queue is bound with its own name as the routing key, so a producer addresses a
    worker by publishing with that worker's queue name. Everything is durable so that
    pending tasks survive a broker restart.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vhost: str,
        exchange_name: str = "ml_tasks",
        workers: int = 3,
        queue_name_prefix: str = "worker_queue_",
    ) -> None:
        super().__init__(scope, id)
        where = limits.environment_of(self)
        limits.check(vhost, limits.RABBITMQ_VHOST, field="RabbitMqTaskExchange.vhost", where=where)
        limits.check(
            exchange_name,
            limits.RABBITMQ_NAME,
            field="RabbitMqTaskExchange.exchange_name",
            where=where,
        )
        limits.check(
            workers, limits.WORKER_COUNT, field="RabbitMqTaskExchange.workers", where=where
        )
        names = [f"{queue_name_prefix}{number}" for number in range(1, workers + 1)]
        for name in names:
            limits.check(
                name, limits.RABBITMQ_NAME, field="RabbitMqTaskExchange queue name", where=where
            )

        self._exchange = Exchange(
            self,
            "exchange",
            name=exchange_name,
            vhost=vhost,
            settings=ExchangeSettings(type="direct", durable=True),
        )
        self._queues = [
            Queue(self, name, name=name, vhost=vhost, settings=QueueSettings(durable=True))
            for name in names
        ]
        for name, queue in zip(names, self._queues, strict=True):
            Binding(
                self,
                f"{name}_binding",
                source=self._exchange.name,
                vhost=vhost,
                destination=queue.name,
                destination_type="queue",
                routing_key=name,
            )
        self._queue_names = names

    @property
    def exchange_name(self) -> str:
        return self._exchange.name

    @property
    def worker_queue_names(self) -> list[str]:
        """References to the queues' names, in worker order (worker 1 first)."""
        return [queue.name for queue in self._queues]

    @property
    def routing_keys(self) -> list[str]:
        """The routing key that reaches each worker, in worker order."""
        return list(self._queue_names)
