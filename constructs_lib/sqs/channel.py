"""The SQS side of the channel: a queue per worker and a shared one, with their grants."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cdktf import Fn
from constructs import Construct

from constructs_lib import limits
from constructs_lib.channel import ChannelOutput, worker_index
from constructs_lib.props import check_props
from constructs_lib.providers import (
    CloudwatchMetricAlarm,
    CloudwatchMetricAlarmMetricQuery,
    DataAwsCallerIdentity,
    IamRolePolicy,
)
from constructs_lib.sqs.backend import SqsProducerWiring, SqsWorkerWiring
from constructs_lib.sqs.policies import consume_document, queue_arn_pattern, send_document
from constructs_lib.sqs.props import QUEUE_ROLE_TAG, SqsTaskChannelProps, SqsTaskQueueProps
from constructs_lib.sqs.queue import SqsTaskQueue, alarm_topic

# Tags every queue of a channel, so that its alarms find them all by one query.
CHANNEL_TAG = "task_channel"
# A Metrics Insights query returns at most 500 time series; the highest come first, so a
# queue in breach is among them.
_MOST_SERIES = 500
# SQS sends its metrics every minute; an alarm looks at five.
_ALARM_PERIOD_SECONDS = 300


# Which metric each alarm counts rests on SQS's own reporting rules (the "Reporting behavior"
# column of "Available CloudWatch metrics for Amazon SQS"):
#   ApproximateAgeOfOldestMessage: "Reported if the queue contains at least one active
#     message." An empty queue, one whose workers keep up, reports nothing.
#   ApproximateNumberOfMessagesVisible: "Reported if the queue is active", where "A queue is
#     considered active by CloudWatch for up to six hours from the last activity (i.e., any
#     API call) on the queue" (Monitoring Amazon SQS with CloudWatch). A worker's long poll is
#     such a call, so an idle but polled queue reports 0.
# Hence the blind alarm counts the visible messages' series, which every polled queue has,
# not the oldest task's age, which only a queue holding a task has.
OLDEST_TASK_METRIC = "ApproximateAgeOfOldestMessage"
DEPTH_METRIC = "ApproximateNumberOfMessagesVisible"


def _where(channel: str, role: str | None = None) -> str:
    where = f" WHERE tag.{CHANNEL_TAG} = '{channel}'"
    return where if role is None else f"{where} AND tag.{QUEUE_ROLE_TAG} = '{role}'"


def metrics_insights_query(metric: str, channel: str, role: str) -> str:
    """The highest `metric` of each queue of `channel` with `role`, one series per queue."""
    return (
        f'SELECT MAX({metric}) FROM SCHEMA("AWS/SQS", QueueName){_where(channel, role)}'
        f" GROUP BY QueueName ORDER BY MAX() DESC LIMIT {_MOST_SERIES}"
    )


def dead_letters_query(channel: str) -> str:
    """The dead letters waiting in all of `channel`'s dead-letter queues, as one series.

    One series and not one per queue: in a Metrics Insights alarm a contributor whose series
    is no longer returned goes to OK "no matter the treat missing data treatment", and a DLQ
    that nobody touches for six hours stops reporting while its dead letter still waits.
    A single series that goes missing is what `treat_missing_data = ignore` is for: "The
    current alarm state is maintained", so the alarm stays in ALARM until a DLQ reports again.
    What it cannot hold: while the DLQ with the task is quiet, another DLQ that reports 0
    makes the sum 0. Only a call on that other queue alone does that: workers have no
    access to DLQs, a moved task makes the sum > 0, and Terraform's refresh reads them all.
    """
    where = _where(channel, "dead_letter")
    return f'SELECT SUM({DEPTH_METRIC}) FROM SCHEMA("AWS/SQS", QueueName){where}'


def selection_query(channel: str) -> str:
    """How many of `channel`'s queues report their depth: none means the tag filter finds no
    queue (the other two alarms watch nothing), or no queue has been polled for six hours."""
    return f'SELECT COUNT({DEPTH_METRIC}) FROM SCHEMA("AWS/SQS", QueueName){_where(channel)}'


class SqsTaskChannel(Construct):
    """Queue `<name>-worker-<n>` for each worker and `<name>` for any worker.

    Each queue brings its own dead-letter queue and TLS policy; the channel's alarms watch
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
        # The seed's queue is the shared one; its logical id stays, so state carries over.
        self._shared = (
            SqsTaskQueue(self, "sqs_task_queue", queue, tags=tags) if props.shared else None
        )
        self._workers = [
            SqsTaskQueue(
                self,
                f"sqs_worker_{n}_queue",
                replace(queue, name=f"{self._name}-worker-{n}"),
                tags=tags,
            )
            for n in range(1, props.workers + 1)
        ]
        if props.queue.alarms:
            self._alarms(props.queue)

    def _alarms(self, queue: SqsTaskQueueProps) -> None:
        """Three alarms whatever the number of workers, each a Metrics Insights query.

        - oldest-task: a series per task queue, so CloudWatch evaluates each queue as a
          contributor of its own and the one in alarm carries its QueueName. It cannot see a
          task received three or more times ("Poison-pill messages ... are excluded from this
          metric until successfully processed"); such a task is being received, so it moves
          to its DLQ after `max_receive_count` receives, which a cross rule makes happen
          before it expires, and the dead-letter alarm sees it there. Its contributor also
          goes OK once its queue stops reporting (nobody polls it for six hours), so it sends
          no OK action: an OK here may mean "no longer reported", not "no task waits".
        - dead-letters: one series over every DLQ, which keeps its ALARM while the DLQs
          are quiet (see `dead_letters_query`).
        - alarms-blind: fires when no queue of the channel reports at all, so that the other
          two cannot go blind quietly.
        """
        own = (
            alarm_topic(self, "sqs_alarm", name=self._name, email=queue.alarm_email)
            if queue.alarm_target == limits.OWN_ALARM_TARGET and queue.alarm_email
            else None
        )
        actions = limits.notified(queue.alarm_target, own)
        self._alarm(
            "sqs_oldest_task_alarm",
            f"{self._name}-oldest-task",
            "a task has waited too long in the queue named by the contributor: are its workers"
            " consuming? No OK notification follows: a queue nobody polls for six hours stops"
            " reporting, and its contributor then turns OK while the task still waits",
            metrics_insights_query(OLDEST_TASK_METRIC, self._name, "task"),
            actions,
            ok_actions=None,
            threshold=queue.oldest_message_alarm_seconds,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
        )
        if queue.dead_letter:
            self._alarm(
                "sqs_dead_letter_alarm",
                f"{self._name}-dead-letters",
                f"a task failed too often and waits in a dead-letter queue ({self._name}-dlq or"
                f" {self._name}-worker-<n>-dlq; the value is how many wait): this alarm stays in"
                " ALARM until those queues report none, also while SQS reports nothing for them",
                dead_letters_query(self._name),
                actions,
                ok_actions=actions,
                threshold=0,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="ignore",
            )
        # The queries find queues by tag only where CloudWatch's resource tags for telemetry
        # are on; without them they find nothing, and the alarms above would stay OK for ever.
        self._alarm(
            "sqs_alarms_blind_alarm",
            f"{self._name}-alarms-blind",
            "the queue alarms select no queue: turn on CloudWatch's resource tags for telemetry"
            " in this account and region (observabilityadmin StartTelemetryEnrichment), or no"
            " queue has been active for six hours (no worker polling, no task)",
            selection_query(self._name),
            actions,
            ok_actions=actions,
            threshold=1,
            comparison_operator="LessThanThreshold",
            treat_missing_data="breaching",
        )

    def _alarm(
        self,
        id: str,
        name: str,
        description: str,
        expression: str,
        actions: list[str] | None,
        *,
        ok_actions: list[str] | None,
        **condition: Any,
    ) -> None:
        CloudwatchMetricAlarm(
            self,
            id,
            alarm_name=name,
            alarm_description=description,
            metric_query=[
                CloudwatchMetricAlarmMetricQuery(
                    id="queues",
                    expression=expression,
                    period=_ALARM_PERIOD_SECONDS,
                    return_data=True,
                )
            ],
            evaluation_periods=1,
            alarm_actions=actions,
            ok_actions=ok_actions,
            **condition,
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
        account = DataAwsCallerIdentity(self, "sqs_account").account_id
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
