"""The SQS alarms, as data (see constructs_lib/alarms): a channel's three, each one Metrics
Insights query whatever the number of queues, and a lone queue's two, on its own metrics.
`constructs_lib/alarms/cloudwatch.py` makes them CloudWatch alarms. No jsii here.
"""

from __future__ import annotations

from constructs_lib.alarms import Alarm, CloudWatchCondition, Metric, MetricsInsights
from constructs_lib.sqs.props import QUEUE_ROLE_TAG, SqsTaskQueueProps

# Tags every queue of a channel, so that its alarms find them all by one query.
CHANNEL_TAG = "task_channel"
# A Metrics Insights query returns at most 500 time series; the highest come first, so a
# queue in breach is among them.
_MOST_SERIES = 500
# SQS sends its metrics every minute; an alarm looks at five.
_PERIOD_SECONDS = 300


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

_QUIET_QUEUE = (
    "a queue nobody calls for six hours stops reporting, and the alarm turns OK while a task"
    " may still wait: the props keep oldest_message_alarm_seconds below six hours, so it has"
    " fired for that task by then"
)
_POISON_PILL = (
    "a task received three or more times (SQS leaves poison pills out of"
    f" {OLDEST_TASK_METRIC}): it is being received, so it reaches its DLQ after"
    " max_receive_count receives, which the props make happen before its retention ends,"
    " and the dead-letter alarm sees it there"
)


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


def _oldest_task(threshold: int) -> CloudWatchCondition:
    """A task waited longer than `threshold`. An empty queue reports no age either, so a
    missing age counts as OK; and OK is not notified, since it may mean "no longer reported"
    rather than "no task waits"."""
    return CloudWatchCondition(
        comparison="GreaterThanThreshold",
        threshold=threshold,
        period_seconds=_PERIOD_SECONDS,
        missing_data="notBreaching",
        notify_ok=False,
    )


# A dead letter waits. A DLQ that stops reporting keeps the alarm's state (`ignore`), so a
# dead letter in a quiet DLQ stays in ALARM.
_DEAD_LETTERS = CloudWatchCondition(
    comparison="GreaterThanThreshold",
    threshold=0,
    period_seconds=_PERIOD_SECONDS,
    missing_data="ignore",
    notify_ok=True,
)


def channel_alarms(channel: str, props: SqsTaskQueueProps) -> list[Alarm[MetricsInsights]]:
    """Three alarms over every queue tagged `task_channel = <channel>`, whatever the number of
    workers; none without `alarms`.

    - oldest-task: a series per task queue, so CloudWatch evaluates each queue as a
      contributor of its own and the one in alarm carries its QueueName.
    - dead-letters: one series over every DLQ, which keeps its ALARM while the DLQs are quiet
      (see `dead_letters_query`).
    - alarms-blind: fires when no queue of the channel reports at all, so that the other two
      cannot go blind quietly. The queries find queues by tag only where CloudWatch's
      resource tags for telemetry are on; without them they find nothing, and the other two
      would stay OK for ever.
    """
    if not props.alarms:
        return []
    alarms = [
        Alarm(
            key="sqs_oldest_task_alarm",
            name=f"{channel}-oldest-task",
            watch=MetricsInsights(
                query=metrics_insights_query(OLDEST_TASK_METRIC, channel, "task"),
                condition=_oldest_task(props.oldest_message_alarm_seconds),
            ),
            description="a task has waited too long in the queue named by the contributor: are"
            " its workers consuming? No OK notification follows: a queue nobody polls for six"
            " hours stops reporting, and its contributor then turns OK while the task still"
            " waits",
            cannot_see=f"{_POISON_PILL}; {_QUIET_QUEUE} (a contributor whose queue stops"
            ' reporting turns OK "no matter the treat missing data treatment")',
        )
    ]
    if props.dead_letter:
        alarms.append(
            Alarm(
                key="sqs_dead_letter_alarm",
                name=f"{channel}-dead-letters",
                watch=MetricsInsights(query=dead_letters_query(channel), condition=_DEAD_LETTERS),
                description="a task failed too often and waits in a dead-letter queue"
                f" ({channel}-dlq or {channel}-worker-<n>-dlq; the value is how many wait):"
                " this alarm stays in ALARM until those queues report none, also while SQS"
                " reports nothing for them",
                cannot_see="nothing while the DLQs are quiet; it turns OK on a report of 0,"
                " which a call on another DLQ alone could give (workers cannot reach DLQs, a"
                " moved task makes the sum > 0, and a Terraform refresh reads every queue)",
            )
        )
    alarms.append(
        Alarm(
            key="sqs_alarms_blind_alarm",
            name=f"{channel}-alarms-blind",
            watch=MetricsInsights(
                query=selection_query(channel),
                condition=CloudWatchCondition(
                    comparison="LessThanThreshold",
                    threshold=1,
                    period_seconds=_PERIOD_SECONDS,
                    missing_data="breaching",
                    notify_ok=True,
                ),
            ),
            description="the queue alarms select no queue: turn on CloudWatch's resource tags"
            " for telemetry in this account and region (observabilityadmin"
            " StartTelemetryEnrichment), or no queue has been active for six hours (no worker"
            " polling, no task)",
            cannot_see="an idle fleet whose workers poll is not in alarm: SQS reports"
            f' {DEPTH_METRIC} "if the queue is active", and a long poll keeps it so',
        )
    )
    return alarms


def queue_alarms(
    props: SqsTaskQueueProps, queue: str, dead_letter_queue: str | None
) -> list[Alarm[Metric]]:
    """A lone queue's two alarms: the channel's conditions, each on its own queue's metric.
    `queue` and `dead_letter_queue` are the queues' names (references to them, so that an
    alarm follows its queue). They need no tags for telemetry, so there is no blind alarm;
    none without `alarms`."""
    if not props.alarms:
        return []
    alarms = [
        Alarm(
            key="oldest_message_alarm",
            name=f"{queue}-{OLDEST_TASK_METRIC}",
            watch=_metric(
                queue, OLDEST_TASK_METRIC, _oldest_task(props.oldest_message_alarm_seconds)
            ),
            description="a task has waited too long: are the workers consuming?",
            cannot_see=f"{_POISON_PILL}; {_QUIET_QUEUE}",
        )
    ]
    if dead_letter_queue is not None:
        alarms.append(
            Alarm(
                key="dead_letter_alarm",
                name=f"{dead_letter_queue}-{DEPTH_METRIC}",
                watch=_metric(dead_letter_queue, DEPTH_METRIC, _DEAD_LETTERS),
                description="a task failed too often and was moved to the dead-letter queue",
                cannot_see="nothing while the DLQ is quiet: it stays in ALARM until the DLQ"
                " reports none",
            )
        )
    return alarms


def _metric(queue: str, metric: str, condition: CloudWatchCondition) -> Metric:
    """The largest value of `queue`'s `metric` in a period."""
    return Metric(
        namespace="AWS/SQS",
        metric=metric,
        dimensions={"QueueName": queue},
        statistic="Maximum",
        condition=condition,
    )
