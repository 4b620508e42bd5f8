"""A RabbitMQ direct exchange with one queue per worker, dead-lettering and least privilege."""

from __future__ import annotations

import re
from typing import Literal

from cdktf import TerraformResourceLifecycle
from constructs import Construct

from constructs_lib import limits
from constructs_lib.rabbitmq_bindings import (
    Binding,
    Exchange,
    ExchangeSettings,
    Permissions,
    PermissionsPermissions,
    Policy,
    PolicyPolicy,
    Queue,
    QueueSettings,
)

QueueType = Literal["quorum", "classic"]
_QUEUE_TYPES: tuple[QueueType, ...] = ("quorum", "classic")
# A permission regex that matches no name: the user may not touch that kind of access.
_NOTHING = "^$"


class RabbitMqTaskExchange(Construct):
    """Exchange `ml_tasks` (direct, durable) and queues `worker_queue_1..N`, as in the seed.

    Each queue is bound with its own name as the routing key, so a producer addresses a
    worker by publishing with that worker's queue name. Worker queues are quorum queues by
    default: replicated, always durable, and the only type with a delivery limit, which
    stops a task that crashes every worker from cycling forever.

    Queue and exchange settings are ForceNew in the provider: changing one would delete the
    queue and the tasks in it. So everything that may change later (dead-letter exchange,
    delivery limit, message TTL, max length, consumer timeout) lives in one `rabbitmq_policy`,
    which the broker applies to the existing queues in place.

    A task that reaches the delivery limit goes to a fanout dead-letter exchange and its
    queue, keeping its routing key and an `x-death` header naming the worker queue it came
    from. Quorum queues dead-letter at-least-once, so a dead letter is not lost either.
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
        queue_type: QueueType = "quorum",
        dead_letter: bool = True,
        delivery_limit: int | None = 20,
        message_ttl_seconds: int | None = None,
        max_length: int | None = None,
        consumer_timeout_seconds: int | None = None,
        prevent_destroy: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self._where = limits.environment_of(self)
        names = [f"{queue_name_prefix}{number}" for number in range(1, workers + 1)]
        self._validate(
            vhost=vhost,
            exchange_name=exchange_name,
            workers=workers,
            names=names,
            queue_type=queue_type,
            delivery_limit=delivery_limit,
            optional=(
                ("message_ttl_seconds", message_ttl_seconds, limits.RABBITMQ_MESSAGE_TTL_SECONDS),
                ("max_length", max_length, limits.RABBITMQ_MAX_LENGTH),
                (
                    "consumer_timeout_seconds",
                    consumer_timeout_seconds,
                    limits.RABBITMQ_CONSUMER_TIMEOUT_SECONDS,
                ),
            ),
        )
        self._vhost = vhost
        self._exchange_name = exchange_name
        self._queue_names = names
        self._queue_type = queue_type
        self._lifecycle = (
            TerraformResourceLifecycle(prevent_destroy=True) if prevent_destroy else None
        )

        self._exchange = Exchange(
            self,
            "exchange",
            name=exchange_name,
            vhost=vhost,
            settings=ExchangeSettings(type="direct", durable=True),
            lifecycle=self._lifecycle,
        )
        self._queues = [self._queue(name, name) for name in names]
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
        self._dead_letter_queue = self._dead_letter() if dead_letter else None

        definition: dict[str, str] = {}
        if self._dead_letter_queue is not None:
            definition["dead-letter-exchange"] = self._dead_letter_name
            if queue_type == "quorum":
                # at-least-once needs reject-publish: drop-head would fall back to at-most-once.
                definition["dead-letter-strategy"] = "at-least-once"
                definition["overflow"] = "reject-publish"
        for key, value, scale in (
            ("delivery-limit", delivery_limit, 1),
            ("message-ttl", message_ttl_seconds, 1000),
            ("max-length", max_length, 1),
            ("consumer-timeout", consumer_timeout_seconds, 1000),
        ):
            if value is not None:
                definition[key] = str(value * scale)
        self._policy: Policy | None = None
        if definition:
            self._policy = Policy(
                self,
                "worker_policy",
                name=f"{exchange_name}-workers",
                vhost=vhost,
                policy=PolicyPolicy(
                    # Only the worker queues (names ending in digits), never the dead-letter
                    # queue: a DLQ that dead-lettered into itself would cycle.
                    pattern=f"^{re.escape(queue_name_prefix)}[0-9]+$",
                    priority=0,
                    apply_to="queues",
                    definition=definition,
                ),
            )

    def _validate(
        self,
        *,
        vhost: str,
        exchange_name: str,
        workers: int,
        names: list[str],
        queue_type: str,
        delivery_limit: int | None,
        optional: tuple[tuple[str, int | None, limits.Rule], ...],
    ) -> None:
        self._check(vhost, limits.RABBITMQ_VHOST, "vhost")
        self._check(exchange_name, limits.RABBITMQ_NAME, "exchange_name")
        self._check(workers, limits.WORKER_COUNT, "workers")
        if queue_type not in _QUEUE_TYPES:
            raise limits.LimitError(
                f"{self._where}: RabbitMqTaskExchange.queue_type = {queue_type!r} is not"
                " allowed; expected 'quorum' or 'classic'"
            )
        if delivery_limit is not None and queue_type != "quorum":
            raise limits.LimitError(
                f"{self._where}: RabbitMqTaskExchange.delivery_limit = {delivery_limit!r}"
                " is not allowed with classic queues; expected None (only quorum queues"
                " count deliveries)"
            )
        for field, value, rule in (
            ("delivery_limit", delivery_limit, limits.RABBITMQ_DELIVERY_LIMIT),
            *optional,
        ):
            if value is not None:
                self._check(value, rule, field)
        for name in [*names, f"{exchange_name}.dead_letter"]:
            self._check(name, limits.RABBITMQ_NAME, "queue name")

    @property
    def _dead_letter_name(self) -> str:
        return f"{self._exchange_name}.dead_letter"

    def _queue(self, id: str, name: str) -> Queue:
        return Queue(
            self,
            id,
            name=name,
            vhost=self._vhost,
            settings=self._settings(),
            lifecycle=self._lifecycle,
        )

    def _dead_letter(self) -> Queue:
        """A fanout exchange, so every dead letter reaches the one queue whatever its key."""
        exchange = Exchange(
            self,
            "dead_letter_exchange",
            name=self._dead_letter_name,
            vhost=self._vhost,
            settings=ExchangeSettings(type="fanout", durable=True),
            lifecycle=self._lifecycle,
        )
        queue = self._queue("dead_letter_queue", self._dead_letter_name)
        Binding(
            self,
            "dead_letter_binding",
            source=exchange.name,
            vhost=self._vhost,
            destination=queue.name,
            destination_type="queue",
            routing_key="",
        )
        return queue

    def _check(self, value: object, rule: limits.Rule, field: str) -> None:
        limits.check(value, rule, field=f"RabbitMqTaskExchange.{field}", where=self._where)

    def _settings(self) -> QueueSettings:
        if self._queue_type == "quorum":
            return QueueSettings(durable=True, arguments={"x-queue-type": "quorum"})
        return QueueSettings(durable=True)

    def grant_publish(self, id: str, *, user: str) -> Permissions:
        """Let `user` publish to the task exchange and nothing else: no reads, no declares."""
        return self._permissions(id, user=user, write=f"^{re.escape(self._exchange_name)}$")

    def grant_consume(self, id: str, *, user: str, worker: int) -> Permissions:
        """Let `user` read worker `worker`'s queue only, so a worker cannot take another's
        tasks. Acks and rejects need no permission; dead-lettering is done by the broker."""
        if not 1 <= worker <= len(self._queue_names):
            raise limits.LimitError(
                f"{self._where}: RabbitMqTaskExchange.grant_consume worker = {worker!r} is not"
                f" allowed; expected an integer from 1 to {len(self._queue_names)}"
            )
        queue_name = self._queue_names[worker - 1]
        return self._permissions(id, user=user, read=f"^{re.escape(queue_name)}$")

    def _permissions(
        self, id: str, *, user: str, write: str = _NOTHING, read: str = _NOTHING
    ) -> Permissions:
        # One rabbitmq_permissions per user and vhost: the broker keeps a single entry.
        return Permissions(
            self,
            id,
            user=user,
            vhost=self._vhost,
            permissions=PermissionsPermissions(configure=_NOTHING, write=write, read=read),
        )

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

    @property
    def dead_letter_queue_name(self) -> str | None:
        """None when the construct was built without dead-lettering."""
        return self._dead_letter_queue.name if self._dead_letter_queue else None

    @property
    def policy_name(self) -> str | None:
        return self._policy.name if self._policy else None
