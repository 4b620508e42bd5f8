"""SQS settings: what a task queue and a channel of them take, and the rules between them.

No jsii here: the config loader reads these without loading cdktf.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from constructs_lib import limits
from constructs_lib.props import CrossRule, FromEnvironment, inline, setting

_FIFO = ".fifo"
# Tells a task queue from its dead-letter queue in a Metrics Insights query.
QUEUE_ROLE_TAG = "queue_role"


def queue_names(values: Mapping[str, Any]) -> list[str]:
    """The queue's and its DLQ's full names; a FIFO queue's DLQ must be FIFO too."""
    suffix = _FIFO if values["fifo"] else ""
    names = [f"{values['name']}{suffix}"]
    if values["dead_letter"]:
        names.append(f"{values['name']}-dlq{suffix}")
    return names


def names_fit(values: Mapping[str, Any]) -> str | None:
    """Whether SQS takes the names of the queue and its DLQ, `.fifo` included."""
    rule = limits.SQS_FIFO_QUEUE_NAME if values["fifo"] else limits.SQS_QUEUE_NAME
    return limits.names_fit(queue_names(values), rule, what="a name")


def _deduplication_needs_fifo(values: Mapping[str, Any]) -> str | None:
    if values["content_based_deduplication"] and not values["fifo"]:
        return "expected false, or fifo = true: only FIFO queues deduplicate"
    return None


def _fifo_only(field: str) -> Callable[[Mapping[str, Any]], str | None]:
    def rule(values: Mapping[str, Any]) -> str | None:
        if values[field] is not None and not values["fifo"]:
            return "expected it unset, or fifo = true: standard queues have no such setting"
        return None

    return rule


def _per_group_limit_needs_group_scope(values: Mapping[str, Any]) -> str | None:
    per_group = values["fifo_throughput_limit"] == "perMessageGroupId"
    if per_group and values["deduplication_scope"] != "messageGroup":
        return "expected deduplication_scope = 'messageGroup' with it, as SQS requires"
    return None


def _alarm_fires_before_expiry(values: Mapping[str, Any]) -> str | None:
    retention = values["message_retention_seconds"]
    if values["alarms"] and values["oldest_message_alarm_seconds"] >= retention:
        return (
            f"expected less than message_retention_seconds = {retention}: SQS deletes a task"
            " at that age, so the alarm would never fire before the task is gone"
        )
    return None


# "A queue is considered active by CloudWatch for up to six hours from the last activity
# (i.e., any API call) on the queue" (Monitoring Amazon SQS with CloudWatch), and SQS's
# metrics are reported for active queues only.
REPORTED_AFTER_LAST_CALL_SECONDS = 6 * 3600


def _alarm_fires_while_reported(values: Mapping[str, Any]) -> str | None:
    """A task sent to a queue that nobody polls (its worker is gone) is reported, and so
    seen, only until six hours after the send; an alarm on an older age never fires for it,
    and the task would expire unseen while the other queues' workers keep the fleet looking
    healthy."""
    most = REPORTED_AFTER_LAST_CALL_SECONDS
    if values["alarms"] and values["oldest_message_alarm_seconds"] >= most:
        return (
            f"expected less than {most} (six hours): CloudWatch stops reporting a queue six"
            " hours after the last call on it, so a task in a queue nobody polls would never"
            " be seen older than that"
        )
    return None


def _dead_lettered_before_expiry(values: Mapping[str, Any]) -> str | None:
    """A task that fails every time is hidden `delay_seconds` after it is sent, then for
    `visibility_timeout_seconds` after each of its `max_receive_count` receives; SQS moves it
    at the receive after that. Past `message_retention_seconds` SQS deletes it instead, and
    no alarm would ever see it: a task received three or more times is left out of
    ApproximateAgeOfOldestMessage ("Poison-pill messages (those repeatedly received but never
    deleted) are excluded from this metric until successfully processed", SQS's metrics
    table), and it never reaches the dead-letter queue whose alarm would."""
    if not values["dead_letter"]:
        return None
    delay, count = values["delay_seconds"], values["max_receive_count"]
    visibility, retention = (
        values["visibility_timeout_seconds"],
        values["message_retention_seconds"],
    )
    late = limits.dead_lettered_too_late(
        count,
        first=delay,
        each=visibility,
        retention=retention,
        rule=limits.SQS_MAX_RECEIVE_COUNT,
        otherwise="a longer message_retention_seconds, as no count fits",
    )
    if late is None:
        return None
    hidden, allowed = late
    return (
        f"expected {allowed}: delay_seconds {delay} + {count} receives x"
        f" visibility_timeout_seconds {visibility} (max_task_duration_seconds) = {hidden} s is"
        f" not below message_retention_seconds = {retention}, so a failing task would expire"
        " before SQS moves it to its dead-letter queue"
    )


def _dead_letters_outlive_tasks(values: Mapping[str, Any]) -> str | None:
    retention = values["message_retention_seconds"]
    if values["dead_letter"] and values["dead_letter_retention_seconds"] < retention:
        return (
            f"expected at least message_retention_seconds = {retention}: a moved task keeps"
            " its original enqueue time"
        )
    return None


@dataclass(frozen=True, kw_only=True)
class SqsTaskQueueProps:
    """One task queue and its dead-letter queue; defaults are the seed program's values."""

    CROSS_RULES: ClassVar[tuple[CrossRule, ...]] = (
        CrossRule("name", names_fit),
        CrossRule("content_based_deduplication", _deduplication_needs_fifo),
        CrossRule("deduplication_scope", _fifo_only("deduplication_scope")),
        CrossRule("fifo_throughput_limit", _fifo_only("fifo_throughput_limit")),
        CrossRule("fifo_throughput_limit", _per_group_limit_needs_group_scope),
        CrossRule("dead_letter_retention_seconds", _dead_letters_outlive_tasks),
        CrossRule("max_receive_count", _dead_lettered_before_expiry),
        CrossRule("alarm_email", limits.alarm_email_fits),
        CrossRule("oldest_message_alarm_seconds", _alarm_fires_before_expiry),
        CrossRule("oldest_message_alarm_seconds", _alarm_fires_while_reported),
    )

    name: str = setting(
        "mlTrainingQueue", config=False, meaning="the queue's name; the DLQ's is `<name>-dlq`"
    )
    visibility_timeout_seconds: int = setting(
        30,
        rule=limits.SQS_VISIBILITY_TIMEOUT_SECONDS,
        from_environment=FromEnvironment(
            "max_task_duration_seconds",
            "SQS's visibility timeout",
            "extend it with ChangeMessageVisibility",
        ),
        meaning="how long a received task stays hidden from other workers",
    )
    delay_seconds: int = setting(
        90,
        rule=limits.SQS_DELAY_SECONDS,
        meaning="every task is invisible this long after it is sent",
    )
    max_message_size: int = setting(
        262_144,
        rule=limits.SQS_MAX_MESSAGE_SIZE,
        meaning="bytes (256 KiB is the limit of aws provider 5.x)",
    )
    message_retention_seconds: int = setting(
        86_400,
        rule=limits.SQS_MESSAGE_RETENTION_SECONDS,
        meaning="how long an unconsumed task is kept",
    )
    receive_wait_time_seconds: int = setting(
        10, rule=limits.SQS_RECEIVE_WAIT_TIME_SECONDS, meaning="long polling"
    )
    dead_letter: bool = setting(True, meaning="a DLQ `<queue>-dlq` per queue")
    max_receive_count: int = setting(
        5,
        rule=limits.SQS_MAX_RECEIVE_COUNT,
        meaning="receives before a task moves to its dead-letter queue; `delay_seconds` + this"
        " x the visibility timeout must stay below `message_retention_seconds`, or a failing"
        " task expires first",
    )
    dead_letter_retention_seconds: int = setting(
        1_209_600,
        rule=limits.SQS_MESSAGE_RETENTION_SECONDS,
        meaning="at least the queue's retention: a moved task keeps its original enqueue time",
    )
    dead_letter_sources_only: bool = setting(
        True,
        meaning="the DLQ accepts tasks only from its source queue (redrive-allow); `false`"
        " only for APIs without it, such as moto",
    )
    fifo: bool = setting(False, meaning="FIFO queues (and DLQs), named `….fifo`")
    content_based_deduplication: bool = setting(False, meaning="needs `fifo = true`")
    deduplication_scope: str | None = setting(
        None,
        rule=limits.NameRule("queue|messageGroup", "'queue' or 'messageGroup'"),
        meaning="FIFO only: deduplicate per queue or per message group; with"
        ' `fifo_throughput_limit = "perMessageGroupId"` high-throughput FIFO; unset: `queue`',
    )
    fifo_throughput_limit: str | None = setting(
        None,
        rule=limits.NameRule("perQueue|perMessageGroupId", "'perQueue' or 'perMessageGroupId'"),
        meaning="FIFO only: the throughput quota applies per queue or per message group"
        ' (`perMessageGroupId` needs `deduplication_scope = "messageGroup"`); unset: `perQueue`',
    )
    kms_key: str | None = setting(
        None,
        rule=limits.AWS_KMS_KEY,
        meaning="unset: SQS-managed encryption (SSE-SQS), always on; must be a key ARN where"
        " `producer` or `worker_template` is set (IAM names keys by ARN only)",
    )
    kms_data_key_reuse_period_seconds: int = setting(
        300, rule=limits.SQS_KMS_DATA_KEY_REUSE_SECONDS, meaning="with `kms_key`"
    )
    enforce_ssl: bool = setting(True, meaning="a queue policy denies every request without TLS")
    alarms: bool = setting(
        True,
        meaning="CloudWatch alarms on the oldest task's age and on DLQ depth > 0: in `[sqs]`,"
        " one of each for all the queues whatever the workers (the first names the queue at"
        " fault), and one when no queue reports (see Alarms)",
    )
    oldest_message_alarm_seconds: int = setting(
        3600,
        rule=limits.SQS_MESSAGE_RETENTION_SECONDS,
        meaning="alarm when the oldest task waited longer; less than `message_retention_seconds`"
        " and than six hours (21600), after which SQS stops reporting a queue nobody calls",
    )
    alarm_target: str | None = setting(
        None,
        rule=limits.AWS_ALARM_TARGET,
        required_in=limits.ALARMED_ENVIRONMENTS,
        meaning="SNS topic the alarms notify; `own`: a topic `<queue>-alarms` the stack creates,"
        " which CloudWatch may publish to, with `alarm_email` subscribed; `none` or unset: alarms"
        " without actions (prod must say which)",
    )
    alarm_email: str | None = setting(
        None,
        rule=limits.EMAIL_ADDRESS,
        meaning='with `alarm_target = "own"`: the address subscribed to the stack\'s topic;'
        " SNS mails it a confirmation link, and it gets nothing until someone follows it",
    )


def _worker_names_fit(values: Mapping[str, Any]) -> str | None:
    """The longest name is the last worker's: `<name>-worker-<workers>`."""
    return names_fit({**values, "name": f"{values['name']}-worker-{values['workers']}"})


def _granted_key_is_an_arn(values: Mapping[str, Any]) -> str | None:
    granting = values["producer"] is not None or values["worker_template"] is not None
    key = values["kms_key"]
    if granting and key is not None and not limits.AWS_KMS_KEY_ARN.allows(key):
        return (
            f"expected {limits.AWS_KMS_KEY_ARN.describe()} when producer or worker_template"
            " is set: IAM policies name a key by its ARN only"
        )
    return None


@dataclass(frozen=True, kw_only=True)
class SqsTaskChannelProps:
    """The `[sqs]` table: where the queues live, which exist, who may use them, and the
    settings every queue shares."""

    CROSS_RULES: ClassVar[tuple[CrossRule, ...]] = (
        CrossRule("name", _worker_names_fit),
        CrossRule("kms_key", _granted_key_is_an_arn),
    )

    region: str = setting(rule=limits.AWS_REGION, meaning="AWS region")
    endpoint: str | None = setting(
        None,
        rule=limits.SQS_ENDPOINT,
        meaning="an SQS-compatible API (moto, LocalStack) instead of AWS; the provider then"
        " skips its account and credential checks",
    )
    workers: int = setting(
        3,
        rule=limits.WORKER_COUNT,
        from_environment=FromEnvironment("workers"),
        meaning="one queue each",
    )
    shared: bool = setting(
        True, meaning="besides one queue per worker, a queue any worker may take from"
    )
    producer: str | None = setting(
        None,
        rule=limits.IAM_ROLE,
        meaning="IAM role that gets send-only policies on every task queue",
    )
    worker_template: str | None = setting(
        None,
        rule=limits.IAM_ROLE_TEMPLATE,
        meaning="IAM role of worker `{worker}`: consume from its own queue and the shared one",
    )
    queue: SqsTaskQueueProps = inline(SqsTaskQueueProps)
