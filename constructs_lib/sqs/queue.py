"""An SQS queue that holds training tasks until a worker takes them, with a dead-letter queue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdktf import Fn
from constructs import Construct

from constructs_lib import limits
from constructs_lib.alarms.cloudwatch import metric_alarms
from constructs_lib.jsii_cache import attribute
from constructs_lib.props import check_props, values_of
from constructs_lib.providers import (
    IamRolePolicy,
    SqsQueue,
    SqsQueuePolicy,
    SqsQueueRedriveAllowPolicy,
    SqsQueueRedrivePolicy,
)
from constructs_lib.replacement import replaced_with
from constructs_lib.sqs.alarms import queue_alarms
from constructs_lib.sqs.policies import consume_document, send_document
from constructs_lib.sqs.props import QUEUE_ROLE_TAG, SqsTaskQueueProps, queue_names


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
        self._where = self.node.path
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
        dead_letter_queue = self._dead_letter_queue
        metric_alarms(
            self,
            queue_alarms(
                props,
                attribute(self._queue, "name"),
                attribute(dead_letter_queue, "name") if dead_letter_queue is not None else None,
            ),
            target=props.alarm_target,
            email=props.alarm_email,
            topic_id="alarm",
            name=props.name,
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
