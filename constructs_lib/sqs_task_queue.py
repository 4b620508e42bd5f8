"""An SQS queue that holds training tasks until a worker takes them, with a dead-letter queue."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from cdktf import Fn
from constructs import Construct

from constructs_lib import limits
from constructs_lib.jsii_cache import attribute
from constructs_lib.props import CrossRule, FromEnvironment, check_props, setting, values_of
from constructs_lib.providers import (
    CloudwatchMetricAlarm,
    IamRolePolicy,
    SnsTopic,
    SnsTopicPolicy,
    SnsTopicSubscription,
    SqsQueue,
    SqsQueuePolicy,
    SqsQueueRedriveAllowPolicy,
    SqsQueueRedrivePolicy,
)
from constructs_lib.replacement import replaced_with
from constructs_lib.scan_exceptions import skip_check
from constructs_lib.sqs_policies import consume_document, send_document

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
    hidden = delay + count * visibility
    if hidden < retention:
        return None
    most = (retention - 1 - delay) // visibility if visibility else 0
    allowed = (
        f"at most {most}"
        if most >= limits.SQS_MAX_RECEIVE_COUNT.low
        else "a longer message_retention_seconds, as no count fits"
    )
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


def alarm_topic(scope: Construct, id: str, *, name: str, email: str) -> str:
    """An SNS topic `<name>-alarms` that CloudWatch can publish to, with `email` subscribed;
    its ARN, for the alarms' actions.

    CloudWatch publishes only where the topic policy lets it; otherwise the alarm's history
    reads "... is not authorized to perform: SNS:Publish on resource ..." and nobody is told
    (AWS re:Post, "Why didn't I receive an SNS notification for my CloudWatch alarm
    trigger?"). The statement admits cloudwatch.amazonaws.com for this account's alarms
    whose names start with `name` only (aws:SourceAccount, aws:SourceArn), the account and
    region read from the topic's own ARN.

    Not encrypted, on purpose: the same article says that with the default AWS managed key
    `alias/aws/sns` CloudWatch alarms cannot publish to the topic (they need kms:Decrypt and
    kms:GenerateDataKey*, and an AWS managed key's policy cannot be changed to grant them),
    and a customer key would need a key policy granting cloudwatch.amazonaws.com both, kept
    in step with the topic. What the topic carries is alarm names, queue names and counts,
    never a task.
    """
    topic = SnsTopic(scope, f"{id}_topic", name=f"{name}-alarms")
    skip_check(
        topic,
        "CKV_AWS_26",
        reason="CloudWatch cannot publish to a topic encrypted with alias/aws/sns, and the"
        " notifications carry alarm and queue names, never a task",
    )
    arn = attribute(topic, "arn")
    partition, region, account = (Fn.element(Fn.split(":", arn), n) for n in (1, 3, 4))
    SnsTopicPolicy(
        scope,
        f"{id}_topic_policy",
        arn=arn,
        policy=Fn.jsonencode(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "CloudWatchAlarmsPublish",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": arn,
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": account},
                            "ArnLike": {
                                "aws:SourceArn": Fn.join(
                                    ":",
                                    [
                                        "arn",
                                        partition,
                                        "cloudwatch",
                                        region,
                                        account,
                                        f"alarm:{name}*",
                                    ],
                                )
                            },
                        },
                    }
                ],
            }
        ),
    )
    SnsTopicSubscription(
        scope, f"{id}_email_subscription", topic_arn=arn, protocol="email", endpoint=email
    )
    return arn


class SqsTaskQueue(Construct):
    """One SQS task queue.

    `visibility_timeout_seconds` must cover a whole training step, or the task reappears
    for another worker while the first is still on it; workers with longer steps extend it
    with ChangeMessageVisibility.

    A task that fails `max_receive_count` times moves to the dead-letter queue instead of
    cycling forever (on by default). The DLQ keeps tasks longer than the source, because a
    moved message keeps its original enqueue time. Redrive and redrive-allow are separate
    resources, so the two queues are created in one apply without a dependency cycle, and
    the DLQ accepts tasks only from its own source queue (`dead_letter_sources_only`; turn it
    off only where the API lacks redrive-allow policies, as some emulators do).

    Both queues are encrypted at rest (SQS-managed keys, or the KMS key given) and refuse any
    request that does not use TLS. Used on its own, with `alarms`, the queue raises
    CloudWatch alarms of its own when a task is dead-lettered or the oldest task waits too
    long; the stacks never do that: `SqsTaskChannel` turns them off on its queues and watches
    all of them with three alarms per environment, whatever the number of workers.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        props: SqsTaskQueueProps = SqsTaskQueueProps(),
        *,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """`tags` go on both queues, with `queue_role` = `task` or `dead_letter`, so that
        an alarm over many queues (SqsTaskChannel's) can select them by tag."""
        super().__init__(scope, id)
        self._where = limits.environment_of(self)
        check_props(props, owner="SqsTaskQueue", where=self._where)
        queue_name, *dlq_name = queue_names(values_of(props))
        self._name = queue_name
        self._kms_key = props.kms_key
        common: dict[str, Any] = {
            "max_message_size": props.max_message_size,
            "receive_wait_time_seconds": props.receive_wait_time_seconds,
            "visibility_timeout_seconds": props.visibility_timeout_seconds,
            **self._encryption(props.kms_data_key_reuse_period_seconds),
            **self._fifo(props.fifo, props.content_based_deduplication),
            # High-throughput FIFO; None (left out) on standard queues, as the rules ensure.
            "deduplication_scope": props.deduplication_scope,
            "fifo_throughput_limit": props.fifo_throughput_limit,
        }
        self._queue = SqsQueue(
            self,
            "queue",
            name=self._name,
            delay_seconds=props.delay_seconds,
            message_retention_seconds=props.message_retention_seconds,
            **self._tags(tags, "task"),
            **common,
        )
        self._dead_letter_queue: SqsQueue | None = None
        redrive: SqsQueueRedrivePolicy | None = None
        if dlq_name:
            self._dead_letter_queue = SqsQueue(
                self,
                "dead_letter_queue",
                name=dlq_name[0],
                message_retention_seconds=props.dead_letter_retention_seconds,
                **self._tags(tags, "dead_letter"),
                **common,
            )
            redrive = self._redrive(
                props.max_receive_count, sources_only=props.dead_letter_sources_only
            )
        if props.enforce_ssl:
            self._deny_insecure_transport("queue_policy", self._queue, after=redrive)
            if self._dead_letter_queue is not None:
                self._deny_insecure_transport("dead_letter_queue_policy", self._dead_letter_queue)
        if props.alarms:
            own = (
                alarm_topic(self, "alarm", name=props.name, email=props.alarm_email)
                if props.alarm_target == limits.OWN_ALARM_TARGET and props.alarm_email
                else None
            )
            self._alarms(
                props.oldest_message_alarm_seconds, limits.notified(props.alarm_target, own)
            )

    def _encryption(self, reuse_seconds: int) -> dict[str, Any]:
        if self._kms_key is None:
            return {"sqs_managed_sse_enabled": True}
        return {
            "kms_master_key_id": self._kms_key,
            "kms_data_key_reuse_period_seconds": reuse_seconds,
        }

    @staticmethod
    def _tags(tags: Mapping[str, str] | None, role: str) -> dict[str, Any]:
        return {} if tags is None else {"tags": {**tags, QUEUE_ROLE_TAG: role}}

    @staticmethod
    def _fifo(fifo: bool, content_based_deduplication: bool) -> dict[str, Any]:
        """A FIFO queue's DLQ must be FIFO too, so both get the same settings."""
        if not fifo:
            return {}
        return {"fifo_queue": True, "content_based_deduplication": content_based_deduplication}

    def _redrive(self, max_receive_count: int, *, sources_only: bool) -> SqsQueueRedrivePolicy:
        assert self._dead_letter_queue is not None
        redrive = SqsQueueRedrivePolicy(
            self,
            "redrive_policy",
            queue_url=attribute(self._queue, "url"),
            lifecycle=replaced_with(self._queue, self._dead_letter_queue),
            redrive_policy=Fn.jsonencode(
                {
                    "deadLetterTargetArn": attribute(self._dead_letter_queue, "arn"),
                    "maxReceiveCount": max_receive_count,
                }
            ),
        )
        if sources_only:
            SqsQueueRedriveAllowPolicy(
                self,
                "redrive_allow_policy",
                queue_url=attribute(self._dead_letter_queue, "url"),
                lifecycle=replaced_with(self._dead_letter_queue, self._queue),
                redrive_allow_policy=Fn.jsonencode(
                    {
                        "redrivePermission": "byQueue",
                        "sourceQueueArns": [attribute(self._queue, "arn")],
                    }
                ),
            )
        return redrive

    def _deny_insecure_transport(
        self, id: str, queue: SqsQueue, *, after: SqsQueueRedrivePolicy | None = None
    ) -> None:
        """`after`: both write the queue's attributes; one at a time, so neither is lost."""
        SqsQueuePolicy(
            self,
            id,
            queue_url=attribute(queue, "url"),
            depends_on=[after] if after is not None else None,
            lifecycle=replaced_with(queue),
            policy=Fn.jsonencode(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "sqs:*",
                            "Resource": attribute(queue, "arn"),
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            ),
        )

    def _alarms(self, oldest_seconds: int, actions: list[str] | None) -> None:
        """The queue's own two alarms, on the same reporting rules as SqsTaskChannel's: SQS
        stops reporting a queue nobody calls for six hours. The oldest-task alarm treats
        that as OK (an empty queue reports no age either), so it sends no OK action; the
        dead-letter alarm keeps its state instead (`ignore`), so that a quiet DLQ holding a
        task stays in ALARM."""
        alarms: list[tuple[str, SqsQueue, str, int, str, str, list[str] | None]] = [
            (
                "oldest_message_alarm",
                self._queue,
                "ApproximateAgeOfOldestMessage",
                oldest_seconds,
                "a task has waited too long: are the workers consuming?",
                "notBreaching",
                None,
            )
        ]
        if self._dead_letter_queue is not None:
            alarms.append(
                (
                    "dead_letter_alarm",
                    self._dead_letter_queue,
                    "ApproximateNumberOfMessagesVisible",
                    0,
                    "a task failed too often and was moved to the dead-letter queue",
                    "ignore",
                    actions,
                )
            )
        for id, queue, metric, threshold, description, missing, ok_actions in alarms:
            CloudwatchMetricAlarm(
                self,
                id,
                alarm_name=Fn.join("-", [attribute(queue, "name"), metric]),
                alarm_description=description,
                namespace="AWS/SQS",
                metric_name=metric,
                dimensions={"QueueName": attribute(queue, "name")},
                statistic="Maximum",
                period=300,
                evaluation_periods=1,
                threshold=threshold,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data=missing,
                alarm_actions=actions,
                ok_actions=ok_actions,
            )

    def send_policy(self) -> dict[str, Any]:
        """An IAM policy document that lets a producer send tasks and nothing else."""
        return send_document([self.queue_arn], self._kms_key_arn("send_policy"))

    def consume_policy(self) -> dict[str, Any]:
        """An IAM policy document that lets a worker take, extend and delete tasks."""
        return consume_document(
            [attribute(self._queue, "arn")], self._kms_key_arn("consume_policy")
        )

    def _kms_key_arn(self, what: str) -> str | None:
        """IAM names a key by its ARN only: an id or alias would grant nothing."""
        if self._kms_key is not None and not limits.AWS_KMS_KEY_ARN.allows(self._kms_key):
            raise limits.LimitError(
                f"{self._where}: SqsTaskQueue.{what} kms_key = {self._kms_key!r} is not"
                f" allowed in a grant; expected {limits.AWS_KMS_KEY_ARN.describe()}"
            )
        return self._kms_key

    def grant_send_messages(self, id: str, *, role: str) -> IamRolePolicy:
        """Attach `send_policy` to an IAM role (by name)."""
        return IamRolePolicy(
            self, id, name=f"{self._name}-send", role=role, policy=Fn.jsonencode(self.send_policy())
        )

    def grant_consume_messages(self, id: str, *, role: str) -> IamRolePolicy:
        """Attach `consume_policy` to an IAM role (by name)."""
        return IamRolePolicy(
            self,
            id,
            name=f"{self._name}-consume",
            role=role,
            policy=Fn.jsonencode(self.consume_policy()),
        )

    @property
    def queue_url(self) -> str:
        """What producers and workers pass to the SQS API."""
        return attribute(self._queue, "url")

    @property
    def queue_arn(self) -> str:
        return attribute(self._queue, "arn")

    @property
    def queue_name(self) -> str:
        return attribute(self._queue, "name")

    @property
    def dead_letter_queue_url(self) -> str | None:
        """None when the construct was built without a dead-letter queue."""
        return attribute(self._dead_letter_queue, "url") if self._dead_letter_queue else None

    @property
    def dead_letter_queue_arn(self) -> str | None:
        return attribute(self._dead_letter_queue, "arn") if self._dead_letter_queue else None
