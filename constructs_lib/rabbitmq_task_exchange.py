"""A RabbitMQ direct exchange with one queue per worker, dead-lettering and least privilege."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from constructs import Construct

from constructs_lib import limits
from constructs_lib.channel import ChannelOutput
from constructs_lib.jsii_cache import attribute
from constructs_lib.props import (
    CrossRule,
    FromEnvironment,
    check_props,
    inline,
    setting,
    values_of,
)
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
from constructs_lib.rabbitmq_passwords import RabbitMqPasswordsProps
from constructs_lib.replacement import replaced_with
from constructs_lib.wiring import RabbitMqProducerWiring, RabbitMqWorkerWiring

# A permission regex that matches no name: the user may not touch that kind of access.
_NOTHING = "^$"
# Set explicitly: the broker's own default changed from unlimited to 20 in 4.0.
DEFAULT_DELIVERY_LIMIT = 20
# The `consumer-timeout` policy key exists from RabbitMQ 3.12 on; older brokers reject it.
CONSUMER_TIMEOUT_POLICY_SINCE = (3, 12)
# "Starting with RabbitMQ 4.3, delivery acknowledgement timeouts are only supported by quorum
# queues" (consumers guide, 4.3): a classic queue's key would be accepted and do nothing.
CLASSIC_CONSUMER_TIMEOUT_UNTIL = (4, 3)
# "Whether the timeout should be enforced is evaluated periodically, at one minute intervals.
# Values lower than one minute are not supported, and values lower than five minutes are
# not recommended." (consumers guide, 3.13 to 4.3)
CONSUMER_TIMEOUT_MIN_SECONDS = 60
# "Starting with RabbitMQ 4.0, the delivery limit for quorum queues defaults to 20. To
# disable it, set `delivery-limit` to `-1`" (quorum queues guide, 4.0). Brokers before 4.0
# refuse -1 ("not a valid delivery limit": they take integers >= 0) and had no limit by
# default, so for them the kept queues get the largest 32-bit limit instead: a number of
# returns no operator reaches by hand, and the same meaning on 3.x and on a 4.x the
# environment is upgraded to without touching its config.
UNLIMITED_DELIVERIES_SINCE = (4, 0)
UNLIMITED_DELIVERIES = -1
KEPT_DELIVERY_LIMIT_BEFORE_4_0 = 2**31 - 1
# At-least-once dead-lettering of quorum queues came with RabbitMQ 3.10; before it a dead
# letter could be lost between the queues.
AT_LEAST_ONCE_DEAD_LETTERING_SINCE = (3, 10)
# "At most one policy matches a queue or exchange. Matching policies are then sorted by
# priority and the one with the highest priority will take effect." And: "When multiple
# policies match an entity and they all have equal priorities, the effective one will be
# chosen undeterministically." (policies guide, 4.0). The project's policies hold its
# dead-lettering, alternate exchange and limits; at 0, the default, any operator's policy on
# the same names would replace all of them, or might. An operator's own policy must stay
# below this; the broker's own examples use 0 to 123. Operator policies
# (`set_operator_policy`) are merged with these instead ("the more conservative value is
# chosen"), and are the way to tighten a limit.
POLICY_PRIORITY = 1000


def _queue_names(values: Mapping[str, Any]) -> list[str]:
    prefix = values["queue_name_prefix"]
    return [f"{prefix}{number}" for number in range(1, values["workers"] + 1)]


def _queue_names_fit(values: Mapping[str, Any]) -> str | None:
    return limits.names_fit(_queue_names(values), limits.RABBITMQ_NAME, what="a prefix")


def _kept_names_fit(values: Mapping[str, Any]) -> str | None:
    exchange = values["exchange_name"]
    names = [f"{exchange}.unroutable"]
    if values["dead_letter"]:
        names.append(f"{exchange}.dead_letter")
    return limits.names_fit(names, limits.RABBITMQ_NAME, what="an exchange name")


def _quorum_queues_dead_letter(values: Mapping[str, Any]) -> str | None:
    if values["queue_type"] == "quorum" and not values["dead_letter"]:
        return (
            "expected true with queue_type = 'quorum': at the delivery limit a quorum queue"
            " drops a task that has no dead-letter exchange to go to"
        )
    return None


def _expired_tasks_dead_letter(values: Mapping[str, Any]) -> str | None:
    if values["message_ttl_seconds"] is not None and not values["dead_letter"]:
        return "expected it unset with dead_letter = false: an expired task would be dropped"
    return None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _timeout_written(values: Mapping[str, Any]) -> bool:
    """Whether the broker lines the environment runs take a `consumer-timeout` policy key
    for its queues: from 3.12, and from 4.3 for quorum queues only."""
    version = _version(values["min_broker_version"])
    if version < CONSUMER_TIMEOUT_POLICY_SINCE:
        return False
    return values["queue_type"] == "quorum" or version < CLASSIC_CONSUMER_TIMEOUT_UNTIL


def _dead_lettering_broker(values: Mapping[str, Any]) -> str | None:
    version = _version(values["min_broker_version"])
    if values["queue_type"] == "quorum" and version < AT_LEAST_ONCE_DEAD_LETTERING_SINCE:
        return (
            "expected 3.10 or newer with queue_type = 'quorum': at-least-once dead-lettering,"
            " which keeps a dead letter until the dead-letter queue has it, needs it"
        )
    return None


def _only_quorum_queues_count(values: Mapping[str, Any]) -> str | None:
    if values["queue_type"] == "classic" and values["delivery_limit"] is not None:
        return (
            "expected it unset with queue_type = 'classic': classic queues do not count deliveries"
        )
    return None


@dataclass(frozen=True, kw_only=True)
class RabbitMqTaskExchangeProps:
    """The `[rabbitmq]` table: the vhost, the worker queues' type and the policy's knobs."""

    CROSS_RULES: ClassVar[tuple[CrossRule, ...]] = (
        CrossRule("queue_name_prefix", _queue_names_fit),
        CrossRule("exchange_name", _kept_names_fit),
        CrossRule("dead_letter", _quorum_queues_dead_letter),
        CrossRule("message_ttl_seconds", _expired_tasks_dead_letter),
        CrossRule("delivery_limit", _only_quorum_queues_count),
        CrossRule("min_broker_version", _dead_lettering_broker),
    )

    vhost: str = setting(
        rule=limits.RABBITMQ_VHOST, meaning="the environment's own vhost; unique per environment"
    )
    endpoint: str | None = setting(
        None,
        rule=limits.RABBITMQ_ENDPOINT,
        meaning="management API URL, without credentials; unset: the provider reads"
        " `RABBITMQ_ENDPOINT`",
    )
    exchange_name: str = setting(
        "ml_tasks", rule=limits.RABBITMQ_NAME, config=False, meaning="the direct task exchange"
    )
    queue_name_prefix: str = setting(
        "worker_queue_",
        config=False,
        meaning="worker n's queue, and its routing key, is `<prefix><n>`",
    )
    workers: int = setting(
        3,
        rule=limits.WORKER_COUNT,
        from_environment=FromEnvironment("workers"),
        meaning="one queue each",
    )
    consumer_timeout_seconds: int | None = setting(
        None,
        rule=limits.RABBITMQ_CONSUMER_TIMEOUT_SECONDS,
        from_environment=FromEnvironment(
            "max_task_duration_seconds",
            "RabbitMQ's consumer timeout",
            "ack early and track progress elsewhere",
        ),
        meaning="how long a delivered task may stay unacknowledged (broker 3.12 and newer; from"
        f" 4.3 quorum queues only); under {CONSUMER_TIMEOUT_MIN_SECONDS} s writes"
        f" {CONSUMER_TIMEOUT_MIN_SECONDS} s, the least RabbitMQ supports",
    )
    queue_type: str = setting(
        "quorum",
        rule=limits.RABBITMQ_QUEUE_TYPE,
        meaning="worker queues' type, also the vhost's default",
    )
    dead_letter: bool = setting(
        True,
        meaning="exchange and queue `ml_tasks.dead_letter` take tasks past the delivery limit,"
        " rejected or expired; `false` only with classic queues and no `message_ttl_seconds`"
        " (otherwise those tasks would be dropped)",
    )
    delivery_limit: int | None = setting(
        None,
        rule=limits.RABBITMQ_DELIVERY_LIMIT,
        meaning=f"quorum queues only; unset: {DEFAULT_DELIVERY_LIMIT}, set explicitly (the"
        " broker's default changed in 4.0)",
    )
    message_ttl_seconds: int | None = setting(
        None, rule=limits.RABBITMQ_MESSAGE_TTL_SECONDS, meaning="unset: tasks never expire"
    )
    max_length: int | None = setting(
        None,
        rule=limits.RABBITMQ_MAX_LENGTH,
        meaning="unset: no limit; a full queue refuses new tasks (`reject-publish`: the"
        " publisher gets a nack), never drops its oldest",
    )
    unconsumed_alarm_seconds: int = setting(
        300,
        rule=limits.RABBITMQ_UNCONSUMED_ALARM_SECONDS,
        meaning="`make rabbitmq-alerts`: alert when a worker queue has held ready tasks and no"
        " consumer for this long",
    )
    max_length_alarm_percent: int = setting(
        90,
        rule=limits.RABBITMQ_FULL_ALARM_PERCENT,
        meaning="`make rabbitmq-alerts`, with `max_length`: alert when a worker queue's ready"
        " tasks (the ones `max_length` counts) reach this share of it",
    )
    min_broker_version: str = setting(
        "4.0",
        rule=limits.RABBITMQ_BROKER_VERSION,
        meaning="oldest broker the environment runs (tested: 4.0, Debian 13, and 3.10, Debian"
        " 12; quorum queues need 3.10); below 3.12, and for classic queues from 4.3, the"
        " `consumer-timeout` policy key is left out; from 4.0 the kept queues' delivery"
        " limit is `-1` (none), before it 2147483647",
    )
    passwords: RabbitMqPasswordsProps = inline(RabbitMqPasswordsProps)

    @property
    def effective_delivery_limit(self) -> int | None:
        if self.queue_type != "quorum":
            return None
        return self.delivery_limit if self.delivery_limit is not None else DEFAULT_DELIVERY_LIMIT

    @property
    def broker_version(self) -> tuple[int, ...]:
        """`min_broker_version` as numbers, so that 3.9 < 3.12."""
        return _version(self.min_broker_version)

    @property
    def consumer_timeout_policy(self) -> bool:
        """Whether every broker line the environment runs applies `consumer-timeout` to its
        queues."""
        return _timeout_written(values_of(self))

    @property
    def kept_delivery_limit(self) -> int | None:
        """The kept queues' delivery limit, so that no number of returns drops a task;
        None for classic queues, which count no deliveries."""
        if self.queue_type != "quorum":
            return None
        if self.broker_version >= UNLIMITED_DELIVERIES_SINCE:
            return UNLIMITED_DELIVERIES
        return KEPT_DELIVERY_LIMIT_BEFORE_4_0


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

    def __init__(self, scope: Construct, id: str, props: RabbitMqTaskExchangeProps) -> None:
        super().__init__(scope, id)
        self._where = limits.environment_of(self)
        check_props(props, owner="RabbitMqTaskExchange", where=self._where)
        self._props = props
        self._vhost = props.vhost
        self._exchange_name = props.exchange_name
        self._queue_names = _queue_names(values_of(props))
        self._producer: str | None = None
        self._consumers: dict[int, str] = {}
        self._password_parameters: Callable[[int | None], str | None] = lambda _: None
        self._exchange = Exchange(
            self,
            "exchange",
            name=props.exchange_name,
            vhost=props.vhost,
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
        if not limits.IntRange(1, len(self._queue_names)).allows(worker):
            raise limits.LimitError(
                f"{self._where}: RabbitMqTaskExchange.{what} worker = {worker!r} is not"
                f" allowed; expected an integer from 1 to {len(self._queue_names)}"
            )
        return worker - 1

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
