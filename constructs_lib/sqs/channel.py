"""The SQS side of the channel: a queue per worker and a shared one, with their grants."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cdktf import Fn
from constructs import Construct

from constructs_lib.alarms.cloudwatch import metric_alarms
from constructs_lib.channel import ChannelOutput, worker_index
from constructs_lib.props import check_props
from constructs_lib.providers import DataAwsCallerIdentity, IamRolePolicy
from constructs_lib.sqs.alarms import CHANNEL_TAG, channel_alarms
from constructs_lib.sqs.backend import SqsProducerWiring, SqsWorkerWiring
from constructs_lib.sqs.policies import (
    consume_document,
    partition,
    queue_arn_pattern,
    send_document,
)
from constructs_lib.sqs.props import SqsTaskChannelProps
from constructs_lib.sqs.queue import SqsTaskQueue


class SqsTaskChannel(Construct):
    """Queue `<name>-worker-<n>` for each worker and `<name>` for any worker.

    Each queue brings its own dead-letter queue and TLS-only policy; the channel's alarms watch
    them all. Its resources' logical ids start with the channel's id, so two channels in one
    stack do not collide (their `queue.name`s must differ too: SQS names are per account and
    region). The ml-queues app gives its channel the id `Default`, which cdktf leaves out of
    logical ids, so that its queues keep the ids they had when they sat in the stack itself.
    """

    def __init__(self, scope: Construct, id: str, props: SqsTaskChannelProps) -> None:
        # Checked before the node exists, so that a refused channel leaves nothing behind.
        self_path = f"{scope.node.path}/{id}" if scope.node.path else id
        check_props(props, owner="SqsTaskChannel", where=self_path)
        super().__init__(scope, id)
        self._where = self.node.path
        self._region = props.region
        self._name = props.queue.name
        self._kms_key = props.queue.kms_key
        # The channel's alarms watch every queue; none of their own.
        queue = replace(props.queue, alarms=False)
        tags = {CHANNEL_TAG: self._name}
        # The account the stack deploys into, as its provider's credentials report it: read
        # once, for every queue's own ARN and the producer's name patterns.
        self._account = DataAwsCallerIdentity(self, "sqs_account").account_id
        arn_prefix = f"arn:{partition(self._region)}:sqs:{self._region}:{self._account}"
        # The seed's queue is the shared one; its logical id stays, so state carries over.
        self._shared = (
            SqsTaskQueue(self, "sqs_task_queue", queue, tags=tags, arn_prefix=arn_prefix)
            if props.shared
            else None
        )
        self._workers = [
            SqsTaskQueue(
                self,
                f"sqs_worker_{n}_queue",
                replace(queue, name=f"{self._name}-worker-{n}"),
                tags=tags,
                arn_prefix=arn_prefix,
            )
            for n in range(1, props.workers + 1)
        ]
        # Three alarms over every queue, whatever the number of workers.
        metric_alarms(
            self,
            channel_alarms(self._name, props.queue),
            target=props.queue.alarm_target,
            email=props.queue.alarm_email,
            topic_id="sqs_alarm",
            name=self._name,
        )

    @property
    def worker_addresses(self) -> list[str]:
        return [queue.queue_url for queue in self._workers]

    @property
    def shared_address(self) -> str | None:
        return self._shared.queue_url if self._shared is not None else None

    def grant_publish(self, principal: str) -> None:
        """`principal` is an IAM role name. One inline policy whatever the number of workers:
        the worker queues by name pattern, the shared queue by ARN, and a deny on every
        dead-letter queue, which the pattern would otherwise match too. The patterns name the
        account the stack deploys into, as its provider's credentials report it."""
        account = self._account
        resources = [queue_arn_pattern(self._region, account, f"{self._name}-worker-*")]
        denied = [queue_arn_pattern(self._region, account, f"{self._name}-worker-*-dlq*")]
        if self._shared is not None:
            resources.insert(0, self._shared.queue_arn)
            if self._shared.dead_letter_queue_arn is not None:
                denied.insert(0, self._shared.dead_letter_queue_arn)
        document = send_document(resources, self._kms_key, denied=denied)
        self._grant("sqs_producer_grant", f"{self._name}-producer", principal, document)

    def grant_consume(self, principal: str, worker: int) -> None:
        """`principal` is an IAM role name: one inline policy to consume from worker
        `worker`'s queue and the shared one."""
        resources = [self._worker(worker, "grant_consume").queue_arn]
        if self._shared is not None:
            resources.append(self._shared.queue_arn)
        document = consume_document(resources, self._kms_key)
        name = f"{self._name}-worker-{worker}-consumer"
        self._grant(f"sqs_worker_{worker}_grant", name, principal, document)

    def _grant(self, id: str, name: str, role: str, document: dict[str, Any]) -> None:
        """`name` differs from every `<queue>-send` and `<queue>-consume` that the per-queue
        grants wrote before: a stack moving to these policies deletes those and creates
        these in one apply, in no set order, and a shared role and name would let the delete
        remove the new policy."""
        IamRolePolicy(self, id, name=name, role=role, policy=Fn.jsonencode(document))

    def _worker(self, worker: int, what: str) -> SqsTaskQueue:
        index = worker_index(
            worker, len(self._workers), method=f"SqsTaskChannel.{what}", where=self._where
        )
        return self._workers[index]

    def producer_wiring(self) -> SqsProducerWiring:
        return SqsProducerWiring(
            region=self._region,
            worker_queue_urls=self.worker_addresses,
            shared_queue_url=self.shared_address,
        )

    def worker_wiring(self, worker: int) -> SqsWorkerWiring:
        return SqsWorkerWiring(
            region=self._region,
            queue_url=self._worker(worker, "worker_wiring").queue_url,
            shared_queue_url=self.shared_address,
        )

    def outputs(self) -> list[ChannelOutput]:
        outputs = []
        if self._shared is not None:
            shared = self._shared
            outputs += [
                ChannelOutput("ml_training_queue_url", shared.queue_url, "URL of the shared queue"),
                ChannelOutput("ml_training_queue_arn", shared.queue_arn, "ARN of the shared queue"),
            ]
            if shared.dead_letter_queue_url is not None:
                outputs += [
                    ChannelOutput(
                        "ml_training_dlq_url",
                        shared.dead_letter_queue_url,
                        "URL of the shared queue's dead-letter queue",
                    ),
                    ChannelOutput(
                        "ml_training_dlq_arn",
                        shared.dead_letter_queue_arn,
                        "ARN of the shared queue's dead-letter queue",
                    ),
                ]
        outputs.append(
            ChannelOutput(
                "sqs_worker_queue_urls",
                self.worker_addresses,
                "URL of each worker's own queue, worker 1 first",
            )
        )
        return outputs
