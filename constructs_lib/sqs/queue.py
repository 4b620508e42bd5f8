"""An SQS queue that holds training tasks until a worker takes them, with a dead-letter queue."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cdktf import Fn
from constructs import Construct

from constructs_lib import limits
from constructs_lib.alarms.cloudwatch import metric_alarms
from constructs_lib.jsii_cache import attribute
from constructs_lib.props import check_props, values_of
from constructs_lib.providers import (
    DataAwsCallerIdentity,
    DataAwsPartition,
    DataAwsRegion,
    IamRolePolicy,
    SqsQueue,
)
from constructs_lib.retired import retire
from constructs_lib.sqs.alarms import queue_alarms
from constructs_lib.sqs.policies import consume_document, send_document
from constructs_lib.sqs.props import QUEUE_ROLE_TAG, SqsTaskQueueProps, queue_names

# What the queues' policies were before they became the queues' own arguments: separate
# resources, each waiting about 25 s on the provider (terraform-provider-aws #27393). Their
# addresses are forgotten, not destroyed (constructs_lib/retired.py says why).
RETIRED = (
    ("aws_sqs_queue_policy", "queue_policy"),
    ("aws_sqs_queue_policy", "dead_letter_queue_policy"),
    ("aws_sqs_queue_redrive_policy", "redrive_policy"),
    ("aws_sqs_queue_redrive_allow_policy", "redrive_allow_policy"),
)


class SqsTaskQueue(Construct):
    """One SQS task queue.

    `visibility_timeout_seconds` must cover a whole training step, or the task reappears
    for another worker while the first is still on it; workers with longer steps extend it
    with ChangeMessageVisibility.

    A task that fails `max_receive_count` times moves to the dead-letter queue instead of
    cycling forever (on by default). The DLQ keeps tasks longer than the source, because a
    moved message keeps its original enqueue time, and accepts tasks only from its own
    source queue (`dead_letter_sources_only`; turn it off only where the API lacks
    redrive-allow policies, as some emulators do).

    Both queues are encrypted at rest (SQS-managed keys, or the KMS key given) and refuse any
    request that does not use TLS. The TLS-only policy, the redrive policy and the
    redrive-allow policy are arguments of the queues themselves, not resources of their own:
    the AWS provider waits about 25 s after writing any of them, so each separate resource
    cost a wait. Without a cycle: the DLQ is made first, and it names its source queue, and
    each queue itself, by an ARN written from the name, the account and the region
    (`arn_prefix`; the channel passes one for all its queues, a queue on its own reads the
    account, region and partition itself).

    Used on its own, with `alarms`, the queue raises CloudWatch alarms of its own when a task
    is dead-lettered or the oldest task waits too long; the stacks never do that:
    `SqsTaskChannel` turns them off on its queues and watches all of them with three alarms
    per environment, whatever the number of workers.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        props: SqsTaskQueueProps = SqsTaskQueueProps(),
        *,
        tags: Mapping[str, str] | None = None,
        arn_prefix: str | None = None,
    ) -> None:
        """`tags` go on both queues, with `queue_role` = `task` or `dead_letter`, so that
        an alarm over many queues (SqsTaskChannel's) can select them by tag. `arn_prefix`
        is `arn:<partition>:sqs:<region>:<account>` of the provider the queue is made with."""
        super().__init__(scope, id)
        self._where = self.node.path
        check_props(props, owner="SqsTaskQueue", where=self._where)
        queue_name, *dlq_name = queue_names(values_of(props))
        self._name = queue_name
        self._kms_key = props.kms_key
        self._arn_prefix = arn_prefix
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
        self._dead_letter_queue: SqsQueue | None = None
        redrive: dict[str, Any] = {}
        if dlq_name:
            self._dead_letter_queue = SqsQueue(
                self,
                "dead_letter_queue",
                name=dlq_name[0],
                message_retention_seconds=props.dead_letter_retention_seconds,
                policy=self._tls_only(dlq_name[0], props.enforce_ssl),
                redrive_allow_policy=_json(
                    {"redrivePermission": "byQueue", "sourceQueueArns": [self._arn(queue_name)]}
                )
                if props.dead_letter_sources_only
                else None,
                **self._tags(tags, "dead_letter"),
                **common,
            )
            redrive["redrive_policy"] = _json(
                {
                    "deadLetterTargetArn": attribute(self._dead_letter_queue, "arn"),
                    "maxReceiveCount": props.max_receive_count,
                }
            )
        self._queue = SqsQueue(
            self,
            "queue",
            name=self._name,
            delay_seconds=props.delay_seconds,
            message_retention_seconds=props.message_retention_seconds,
            policy=self._tls_only(queue_name, props.enforce_ssl),
            **redrive,
            **self._tags(tags, "task"),
            **common,
        )
        for resource_type, retired_id in RETIRED:
            retire(self, resource_type, retired_id)
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

    def _arn(self, queue_name: str) -> str:
        """A queue's ARN from its name, before the queue exists. A queue on its own reads
        the account, region and partition its provider reports, once, when first needed."""
        if self._arn_prefix is None:
            partition = DataAwsPartition(self, "partition").partition
            region = DataAwsRegion(self, "region").name
            account = DataAwsCallerIdentity(self, "account").account_id
            self._arn_prefix = f"arn:{partition}:sqs:{region}:{account}"
        return f"{self._arn_prefix}:{queue_name}"

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

    def _tls_only(self, queue_name: str, enforce_ssl: bool) -> str | None:
        """A queue policy that refuses every request not made over TLS, to anyone."""
        if not enforce_ssl:
            return None
        return _json(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "sqs:*",
                        "Resource": self._arn(queue_name),
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
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


def _json(document: Mapping[str, Any]) -> str:
    """A policy as the JSON string SQS stores, written here rather than with Terraform's
    `jsonencode`: the references inside it (an ARN) are interpolated all the same."""
    return json.dumps(document, separators=(",", ":"))
