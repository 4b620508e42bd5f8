"""A RabbitMQ direct exchange with one queue per worker, dead-lettering and least privilege."""

from __future__ import annotations

import re
from collections.abc import Callable

from constructs import Construct

from constructs_lib import limits
from constructs_lib.channel import ChannelOutput, worker_index
from constructs_lib.jsii_cache import attribute
from constructs_lib.props import (
    check_props,
    values_of,
)
from constructs_lib.rabbitmq.backend import RabbitMqProducerWiring, RabbitMqWorkerWiring
from constructs_lib.rabbitmq.bindings import (
    Binding,
    Exchange,
    ExchangeSettings,
    Permissions,
    PermissionsPermissions,
    Policy,
    PolicyPolicy,
    Queue,
    QueueSettings,
    Vhost,
)
from constructs_lib.rabbitmq.props import (
    CONSUMER_TIMEOUT_MIN_SECONDS,
    POLICY_PRIORITY,
    RabbitMqTaskExchangeProps,
    queue_names,
)
from constructs_lib.replacement import replaced_with

# A permission regex that matches no name: the user may not touch that kind of access.
_NOTHING = "^$"


def task_vhost(scope: Construct, props: RabbitMqTaskExchangeProps, *, description: str) -> Vhost:
    """The vhost (child `vhost` of `scope`) an exchange of `props` lives in: named
    `props.vhost`, and with the worker queues' type as its default, so that a queue declared
    there by hand gets the type the exchange's have."""
    return Vhost(
        scope,
        "vhost",
        name=props.vhost,
        description=description,
        default_queue_type=props.queue_type,
    )


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

    A task whose routing key names no worker goes to the alternate exchange
    `ml_tasks.unroutable` and waits in its queue, whatever the producer's `mandatory` flag;
    the alternate exchange is set by a policy too, so it can change in place. A full worker
    queue refuses new tasks (`reject-publish`, the publisher gets a nack) instead of
    dropping its oldest (`drop-head`, the broker's default). A binding is replaced together
    with its queue or its exchange, because the broker drops the binding when either goes.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        props: RabbitMqTaskExchangeProps,
        *,
        vhost: Vhost | None = None,
    ) -> None:
        """Without `vhost`, the exchange makes its own vhost `props.vhost` (child `vhost`),
        since nothing here exists without one. A `Vhost` made elsewhere, for example shared
        with other exchanges, is used instead and must carry the same name."""
        super().__init__(scope, id)
        self._where = self.node.path
        check_props(props, owner="RabbitMqTaskExchange", where=self._where)
        if vhost is None:
            vhost = task_vhost(self, props, description=f"training tasks of {self._where}")
        elif vhost.name_input != props.vhost:
            raise limits.LimitError(
                f"{self._where}: RabbitMqTaskExchange.vhost = {props.vhost!r} is not allowed;"
                f" expected {vhost.name_input!r}, the name of the Vhost passed as `vhost`"
            )
        self._props = props
        self._vhost = attribute(vhost, "name")
        self._exchange_name = props.exchange_name
        self._queue_names = queue_names(values_of(props))
        self._producer: str | None = None
        self._consumers: dict[int, str] = {}
        self._password_parameters: Callable[[int | None], str | None] = lambda _: None
        self._exchange = Exchange(
            self,
            "exchange",
            name=props.exchange_name,
            vhost=self._vhost,
            settings=ExchangeSettings(type="direct", durable=True),
        )
        self._queues = [self._queue(name, name) for name in self._queue_names]
        for name, queue in zip(self._queue_names, self._queues, strict=True):
            self._bind(f"{name}_binding", self._exchange, queue, routing_key=name)
        self._dead_letter_queue = (
            self._kept_queue("dead_letter", self._dead_letter_name) if props.dead_letter else None
        )
        self._unroutable_queue = self._kept_queue("unroutable", self._unroutable_name)
        self._policy = self._worker_policy()
        self._kept_policy()
        self._apply_policy(
            "exchange_policy",
            f"{props.exchange_name}-exchange",
            f"^{re.escape(props.exchange_name)}$",
            "exchanges",
            {"alternate-exchange": self._unroutable_name},
        )

    def _apply_policy(
        self, id: str, name: str, pattern: str, apply_to: str, definition: dict[str, str]
    ) -> Policy:
        return Policy(
            self,
            id,
            name=name,
            vhost=self._vhost,
            policy=PolicyPolicy(
                pattern=pattern,
                priority=POLICY_PRIORITY,
                apply_to=apply_to,
                definition=definition,
            ),
        )

    def _worker_policy(self) -> Policy:
        """Everything that may change later, in one policy the broker applies in place."""
        props = self._props
        # A full queue refuses new tasks rather than dropping its oldest (drop-head); quorum
        # queues' at-least-once dead-lettering needs it too.
        definition = {"overflow": "reject-publish"}
        if self._dead_letter_queue is not None:
            definition["dead-letter-exchange"] = self._dead_letter_name
            if props.queue_type == "quorum":
                definition["dead-letter-strategy"] = "at-least-once"
        timeout = props.consumer_timeout_seconds if props.consumer_timeout_policy else None
        if timeout is not None:
            # The broker checks the timeout once a minute, so less cannot be honoured anyway;
            # it accepts the key all the same, so nothing but this stops an unsupported value.
            timeout = max(timeout, CONSUMER_TIMEOUT_MIN_SECONDS)
        for key, value, scale in (
            ("delivery-limit", props.effective_delivery_limit, 1),
            ("message-ttl", props.message_ttl_seconds, 1000),
            ("max-length", props.max_length, 1),
            ("consumer-timeout", timeout, 1000),
        ):
            if value is not None:
                definition[key] = str(value * scale)
        # Only the worker queues (names ending in digits), never the kept queues: a DLQ that
        # dead-lettered into itself would cycle.
        return self._apply_policy(
            "worker_policy",
            f"{props.exchange_name}-workers",
            f"^{re.escape(props.queue_name_prefix)}[0-9]+$",
            "queues",
            definition,
        )

    def _kept_policy(self) -> None:
        """The kept queues keep a task that is returned any number of times.

        Without a policy of their own, a 4.x broker gives them its default delivery limit of
        20, and they have no dead-letter exchange: the 21st return by an operator who
        inspects a task would drop it. A policy rather than `x-delivery-limit`, because a
        queue argument is ForceNew (the queue and its tasks would be replaced)."""
        limit = self._props.kept_delivery_limit
        if limit is None:
            return
        # Quorum queues always dead-letter (the props refuse otherwise): both queues exist.
        names = [self._dead_letter_name, self._unroutable_name]
        self._apply_policy(
            "kept_policy",
            f"{self._exchange_name}-kept",
            "^(" + "|".join(re.escape(name) for name in names) + ")$",
            "queues",
            {"delivery-limit": str(limit)},
        )

    @property
    def _dead_letter_name(self) -> str:
        return f"{self._exchange_name}.dead_letter"

    def _queue(self, id: str, name: str) -> Queue:
        return Queue(self, id, name=name, vhost=self._vhost, settings=self._settings())

    @property
    def _unroutable_name(self) -> str:
        return f"{self._exchange_name}.unroutable"

    def _kept_queue(self, id: str, name: str) -> Queue:
        """A fanout exchange and its queue `name`, so every task sent there is kept whatever
        its routing key (dead letters, or tasks for a worker that does not exist)."""
        exchange = Exchange(
            self,
            f"{id}_exchange",
            name=name,
            vhost=self._vhost,
            settings=ExchangeSettings(type="fanout", durable=True),
        )
        queue = self._queue(f"{id}_queue", name)
        self._bind(f"{id}_binding", exchange, queue, routing_key="")
        return queue

    def _bind(self, id: str, exchange: Exchange, queue: Queue, *, routing_key: str) -> None:
        Binding(
            self,
            id,
            source=attribute(exchange, "name"),
            vhost=self._vhost,
            destination=attribute(queue, "name"),
            destination_type="queue",
            routing_key=routing_key,
            lifecycle=replaced_with(queue, exchange),
        )

    def _settings(self) -> QueueSettings:
        if self._props.queue_type == "quorum":
            return QueueSettings(durable=True, arguments={"x-queue-type": "quorum"})
        return QueueSettings(durable=True)

    def grant_publish(self, principal: str) -> None:
        """`principal` is a broker user: publish to the task exchange and nothing else, no
        reads, no declares."""
        self._permissions(
            "rabbitmq_producer_permissions",
            user=principal,
            write=f"^{re.escape(self._exchange_name)}$",
        )
        self._producer = principal

    def grant_consume(self, principal: str, worker: int) -> None:
        """`principal` is a broker user: read worker `worker`'s queue only, so a worker cannot
        take another's tasks. Acks and rejects need no permission; the broker dead-letters."""
        queue_name = self._queue_names[self._worker(worker, "grant_consume")]
        self._permissions(
            f"rabbitmq_worker_{worker}_permissions",
            user=principal,
            read=f"^{re.escape(queue_name)}$",
        )
        self._consumers[worker] = principal

    def _worker(self, worker: int, what: str) -> int:
        """The list index of `worker`."""
        return worker_index(
            worker, len(self._queue_names), method=f"RabbitMqTaskExchange.{what}", where=self._where
        )

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

    def keep_passwords_in(self, parameters: Callable[[int | None], str | None]) -> None:
        """`parameters(None)` names the SSM parameter holding the producer's password,
        `parameters(n)` worker n's, so that the wiring says where to read it; the broker
        users and their passwords are the stack's, not this construct's."""
        self._password_parameters = parameters

    @property
    def worker_addresses(self) -> list[str]:
        """The routing key that reaches each worker (its queue's name), worker 1 first."""
        return list(self._queue_names)

    @property
    def shared_address(self) -> str | None:
        """None: a task on a direct exchange is always addressed to one worker."""
        return None

    @property
    def exchange_name(self) -> str:
        return attribute(self._exchange, "name")

    @property
    def worker_queue_names(self) -> list[str]:
        """References to the queues' names, in worker order (worker 1 first)."""
        return [attribute(queue, "name") for queue in self._queues]

    @property
    def dead_letter_queue_name(self) -> str | None:
        """None when the construct was built without dead-lettering."""
        return attribute(self._dead_letter_queue, "name") if self._dead_letter_queue else None

    @property
    def unroutable_queue_name(self) -> str:
        return attribute(self._unroutable_queue, "name")

    @property
    def policy_name(self) -> str:
        return attribute(self._policy, "name")

    def producer_wiring(self) -> RabbitMqProducerWiring:
        return RabbitMqProducerWiring(
            vhost=self._vhost,
            exchange=attribute(self._exchange, "name"),
            routing_keys=self.worker_addresses,
            user=self._producer,
            password_parameter=self._password_parameters(None),
        )

    def worker_wiring(self, worker: int) -> RabbitMqWorkerWiring:
        return RabbitMqWorkerWiring(
            vhost=self._vhost,
            exchange=attribute(self._exchange, "name"),
            queue=attribute(self._queues[self._worker(worker, "worker_wiring")], "name"),
            user=self._consumers.get(worker),
            password_parameter=self._password_parameters(worker),
        )

    def outputs(self) -> list[ChannelOutput]:
        outputs = [
            ChannelOutput("rabbitmq_vhost", self._vhost, "the environment's vhost"),
            ChannelOutput(
                "exchange_name", attribute(self._exchange, "name"), "the direct task exchange"
            ),
            ChannelOutput(
                "worker_queue_names",
                self.worker_queue_names,
                "each worker's queue, worker 1 first; its name is also its routing key",
            ),
        ]
        if self._dead_letter_queue is not None:
            outputs.append(
                ChannelOutput(
                    "rabbitmq_dead_letter_queue",
                    attribute(self._dead_letter_queue, "name"),
                    "where tasks past the delivery limit, rejected or expired, are kept",
                )
            )
        outputs.append(
            ChannelOutput(
                "rabbitmq_unroutable_queue",
                attribute(self._unroutable_queue, "name"),
                "where tasks whose routing key names no worker are kept",
            )
        )
        if self._producer is not None:
            outputs.append(
                ChannelOutput("rabbitmq_producer_user", self._producer, "the producer's user")
            )
        if self._consumers:
            outputs.append(
                ChannelOutput(
                    "rabbitmq_worker_users",
                    [self._consumers[n] for n in sorted(self._consumers)],
                    "each worker's user, worker 1 first",
                )
            )
        return outputs
