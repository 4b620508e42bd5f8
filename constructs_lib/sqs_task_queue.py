"""An SQS queue that holds training tasks until a worker takes them, with a dead-letter queue."""

from __future__ import annotations

from typing import Any

from cdktf import Fn, TerraformResourceLifecycle
from constructs import Construct

from constructs_lib import limits
from constructs_lib.providers import (
    CloudwatchMetricAlarm,
    IamRolePolicy,
    SqsQueue,
    SqsQueuePolicy,
    SqsQueueRedriveAllowPolicy,
    SqsQueueRedrivePolicy,
)

# What each identity needs, after AWS CDK's grantSendMessages / grantConsumeMessages.
SEND_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
CONSUME_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)
SEND_KMS_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
CONSUME_KMS_ACTIONS = ("kms:Decrypt",)
_FIFO = ".fifo"


class SqsTaskQueue(Construct):
    """One SQS task queue; queue defaults are the seed program's values.

    `visibility_timeout_seconds` must cover a whole training step, or the task reappears
    for another worker while the first is still on it; workers with longer steps extend it
    with ChangeMessageVisibility.

    A task that fails `max_receive_count` times moves to the dead-letter queue instead of
    cycling forever (on by default). The DLQ keeps tasks longer than the source, because a
    moved message keeps its original enqueue time. Redrive and redrive-allow are separate
    resources, so the two queues are created in one apply without a dependency cycle, and
    the DLQ accepts tasks only from its own source queue (`dead_letter_sources_only`; turn it
    off only where the API lacks redrive-allow policies, as some emulators do).

    Both queues are encrypted at rest (SQS-managed keys, or the KMS key given), refuse any
    request that does not use TLS, and raise CloudWatch alarms when a task is dead-lettered
    or when the oldest task waits too long (nobody is consuming).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str = "mlTrainingQueue",
        delay_seconds: int = 90,
        max_message_size: int = 262_144,
        message_retention_seconds: int = 86_400,
        receive_wait_time_seconds: int = 10,
        visibility_timeout_seconds: int = 30,
        dead_letter_queue: bool = True,
        max_receive_count: int = 5,
        dead_letter_retention_seconds: int = 1_209_600,
        dead_letter_sources_only: bool = True,
        fifo: bool = False,
        content_based_deduplication: bool = False,
        kms_master_key_id: str | None = None,
        kms_data_key_reuse_period_seconds: int = 300,
        enforce_ssl: bool = True,
        alarms: bool = True,
        oldest_message_alarm_seconds: int = 3600,
        alarm_topic_arn: str | None = None,
        prevent_destroy: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self._where = limits.environment_of(self)
        suffix = _FIFO if fifo else ""
        dlq_name = f"{name}-dlq{suffix}"
        name_rule = limits.SQS_FIFO_QUEUE_NAME if fifo else limits.SQS_QUEUE_NAME
        checks: list[tuple[str, object, limits.Rule]] = [
            ("name", f"{name}{suffix}", name_rule),
            ("delay_seconds", delay_seconds, limits.SQS_DELAY_SECONDS),
            ("max_message_size", max_message_size, limits.SQS_MAX_MESSAGE_SIZE),
            (
                "message_retention_seconds",
                message_retention_seconds,
                limits.SQS_MESSAGE_RETENTION_SECONDS,
            ),
            (
                "receive_wait_time_seconds",
                receive_wait_time_seconds,
                limits.SQS_RECEIVE_WAIT_TIME_SECONDS,
            ),
            (
                "visibility_timeout_seconds",
                visibility_timeout_seconds,
                limits.SQS_VISIBILITY_TIMEOUT_SECONDS,
            ),
            (
                "kms_data_key_reuse_period_seconds",
                kms_data_key_reuse_period_seconds,
                limits.SQS_KMS_DATA_KEY_REUSE_SECONDS,
            ),
            (
                "oldest_message_alarm_seconds",
                oldest_message_alarm_seconds,
                limits.SQS_MESSAGE_RETENTION_SECONDS,
            ),
        ]
        if dead_letter_queue:
            checks += [
                ("DLQ name", dlq_name, name_rule),
                ("max_receive_count", max_receive_count, limits.SQS_MAX_RECEIVE_COUNT),
                (
                    "dead_letter_retention_seconds (at least the queue's retention)",
                    dead_letter_retention_seconds,
                    limits.IntRange(
                        message_retention_seconds, limits.SQS_MESSAGE_RETENTION_SECONDS.high
                    ),
                ),
            ]
        if kms_master_key_id is not None:
            checks.append(("kms_master_key_id", kms_master_key_id, limits.AWS_KMS_KEY))
        if alarm_topic_arn is not None:
            checks.append(("alarm_topic_arn", alarm_topic_arn, limits.AWS_SNS_TOPIC_ARN))
        for field, value, rule in checks:
            limits.check(value, rule, field=f"SqsTaskQueue.{field}", where=self._where)
        if content_based_deduplication and not fifo:
            raise limits.LimitError(
                f"{self._where}: SqsTaskQueue.content_based_deduplication = True is not allowed"
                " on a standard queue; expected fifo = True"
            )

        self._name = f"{name}{suffix}"
        self._kms_master_key_id = kms_master_key_id
        common: dict[str, Any] = {
            "max_message_size": max_message_size,
            "receive_wait_time_seconds": receive_wait_time_seconds,
            "visibility_timeout_seconds": visibility_timeout_seconds,
            "lifecycle": (
                TerraformResourceLifecycle(prevent_destroy=True) if prevent_destroy else None
            ),
            **self._encryption(kms_data_key_reuse_period_seconds),
            **self._fifo(fifo, content_based_deduplication),
        }
        self._queue = SqsQueue(
            self,
            "queue",
            name=self._name,
            delay_seconds=delay_seconds,
            message_retention_seconds=message_retention_seconds,
            **common,
        )
        self._dead_letter_queue: SqsQueue | None = None
        redrive: SqsQueueRedrivePolicy | None = None
        if dead_letter_queue:
            self._dead_letter_queue = SqsQueue(
                self,
                "dead_letter_queue",
                name=dlq_name,
                message_retention_seconds=dead_letter_retention_seconds,
                **common,
            )
            redrive = self._redrive(max_receive_count, sources_only=dead_letter_sources_only)
        if enforce_ssl:
            self._deny_insecure_transport("queue_policy", self._queue, after=redrive)
            if self._dead_letter_queue is not None:
                self._deny_insecure_transport("dead_letter_queue_policy", self._dead_letter_queue)
        if alarms:
            self._alarms(oldest_message_alarm_seconds, alarm_topic_arn)

    def _encryption(self, reuse_seconds: int) -> dict[str, Any]:
        if self._kms_master_key_id is None:
            return {"sqs_managed_sse_enabled": True}
        return {
            "kms_master_key_id": self._kms_master_key_id,
            "kms_data_key_reuse_period_seconds": reuse_seconds,
        }

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
            queue_url=self._queue.url,
            redrive_policy=Fn.jsonencode(
                {
                    "deadLetterTargetArn": self._dead_letter_queue.arn,
                    "maxReceiveCount": max_receive_count,
                }
            ),
        )
        if sources_only:
            SqsQueueRedriveAllowPolicy(
                self,
                "redrive_allow_policy",
                queue_url=self._dead_letter_queue.url,
                redrive_allow_policy=Fn.jsonencode(
                    {"redrivePermission": "byQueue", "sourceQueueArns": [self._queue.arn]}
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
            queue_url=queue.url,
            depends_on=[after] if after is not None else None,
            policy=Fn.jsonencode(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "sqs:*",
                            "Resource": queue.arn,
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            ),
        )

    def _alarms(self, oldest_seconds: int, topic_arn: str | None) -> None:
        actions = [topic_arn] if topic_arn is not None else None
        alarms = [
            (
                "oldest_message_alarm",
                self._queue,
                "ApproximateAgeOfOldestMessage",
                oldest_seconds,
                "a task has waited too long: are the workers consuming?",
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
                )
            )
        for id, queue, metric, threshold, description in alarms:
            CloudwatchMetricAlarm(
                self,
                id,
                alarm_name=Fn.join("-", [queue.name, metric]),
                alarm_description=description,
                namespace="AWS/SQS",
                metric_name=metric,
                dimensions={"QueueName": queue.name},
                statistic="Maximum",
                period=300,
                evaluation_periods=1,
                threshold=threshold,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=actions,
                ok_actions=actions,
            )

    def send_policy(self) -> dict[str, Any]:
        """An IAM policy document that lets a producer send tasks and nothing else."""
        return self._policy(SEND_ACTIONS, SEND_KMS_ACTIONS)

    def consume_policy(self) -> dict[str, Any]:
        """An IAM policy document that lets a worker take, extend and delete tasks."""
        return self._policy(CONSUME_ACTIONS, CONSUME_KMS_ACTIONS)

    def _policy(self, actions: tuple[str, ...], kms_actions: tuple[str, ...]) -> dict[str, Any]:
        statements: list[dict[str, Any]] = [
            {"Effect": "Allow", "Action": list(actions), "Resource": self._queue.arn}
        ]
        if self._kms_master_key_id is not None:
            statements.append(
                {
                    "Effect": "Allow",
                    "Action": list(kms_actions),
                    "Resource": self._kms_master_key_id,
                }
            )
        return {"Version": "2012-10-17", "Statement": statements}

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
        return self._queue.url

    @property
    def queue_arn(self) -> str:
        return self._queue.arn

    @property
    def queue_name(self) -> str:
        return self._queue.name

    @property
    def dead_letter_queue_url(self) -> str | None:
        """None when the construct was built without a dead-letter queue."""
        return self._dead_letter_queue.url if self._dead_letter_queue else None

    @property
    def dead_letter_queue_arn(self) -> str | None:
        return self._dead_letter_queue.arn if self._dead_letter_queue else None
