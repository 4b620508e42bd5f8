"""RabbitMQ settings: what a task exchange and its users' passwords take, and their rules.

No jsii here: the config loader reads these without loading cdktf.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from constructs_lib import limits
from constructs_lib.props import CrossRule, FromEnvironment, inline, setting, values_of

PARAMETER_PREFIX = "/ml-queues"
GET_ACTIONS = ("ssm:GetParameter",)


def _region_with_ssm(values: Mapping[str, Any]) -> str | None:
    if values["password_store"] == "ssm" and values["password_region"] is None:
        return (
            f"expected {limits.AWS_REGION.describe()} with password_store = 'ssm': the region"
            " of the password parameters"
        )
    return None


def _roles_only_with_ssm(field: str) -> CrossRule:
    def expected(values: Mapping[str, Any]) -> str | None:
        if values[field] is not None and values["password_store"] != "ssm":
            return (
                "expected it unset unless password_store = 'ssm': a password in a Terraform"
                " variable has nothing a role could be granted"
            )
        return None

    return CrossRule(field, expected)


@dataclass(frozen=True, kw_only=True)
class RabbitMqPasswordsProps:
    """The password keys of the `[rabbitmq]` table."""

    CROSS_RULES: ClassVar[tuple[CrossRule, ...]] = (
        CrossRule("password_region", _region_with_ssm),
        _roles_only_with_ssm("producer"),
        _roles_only_with_ssm("worker_template"),
    )

    password_store: str = setting(
        "variables",
        rule=limits.RABBITMQ_PASSWORD_STORE,
        meaning="where the broker users' passwords come from: `ssm`, generated once into an"
        f" SSM SecureString parameter `{PARAMETER_PREFIX}/<environment>/rabbitmq/<user>`;"
        " `variables`, a sensitive Terraform variable per user"
        " (`TF_VAR_rabbitmq_producer_password`, `TF_VAR_rabbitmq_worker_<n>_password`) set by"
        " hand",
    )
    password_region: str | None = setting(
        None,
        rule=limits.AWS_REGION,
        meaning="AWS region of the password parameters; required with `ssm`",
    )
    producer: str | None = setting(
        None,
        rule=limits.IAM_ROLE,
        meaning="IAM role that may read the producer's password parameter (`ssm` only)",
    )
    worker_template: str | None = setting(
        None,
        rule=limits.IAM_ROLE_TEMPLATE,
        meaning="IAM role of worker `{worker}`: may read that worker's password parameter and"
        " no other (`ssm` only)",
    )


def password_id(user_id: str) -> str:
    """The logical id of each resource behind the password of the broker user `user_id`
    (its variable, generator, parameter and read-back, and its grant as a prefix)."""
    return f"{user_id}_password"


def parameter_address(user_id: str) -> str:
    """What a rotation of that user's password replaces."""
    return f"aws_ssm_parameter.{password_id(user_id)}"


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


def queue_names(values: Mapping[str, Any]) -> list[str]:
    prefix = values["queue_name_prefix"]
    return [f"{prefix}{number}" for number in range(1, values["workers"] + 1)]


def _queue_names_fit(values: Mapping[str, Any]) -> str | None:
    return limits.names_fit(queue_names(values), limits.RABBITMQ_NAME, what="a prefix")


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


def rabbitmq_user_id(worker: int | None) -> str:
    """The logical id of a broker user, the producer's (None) or worker `worker`'s; its
    password's resources are named after it, and `make rotate-password` finds them so."""
    return "rabbitmq_producer" if worker is None else f"rabbitmq_worker_{worker}"
