"""The Pub/Sub alarms, as data (see constructs_lib/alarms): two alerting policies whatever the
number of workers, the oldest task's age on every task subscription and a dead letter waiting.
`constructs_lib/alarms/cloud_monitoring.py` makes them alerting policies. No jsii here.
"""

from __future__ import annotations

import re

from constructs_lib.alarms import Alarm, MonitoringThreshold
from constructs_lib.pubsub.props import PubSubTaskTopicProps


def _largest_over_five_minutes(
    subscriptions: str, metric: str, threshold: int
) -> MonitoringThreshold:
    """The largest value of `metric` in five minutes above `threshold`, as the SQS alarms
    measure, a time series per subscription that `subscriptions` selects."""
    return MonitoringThreshold(
        filter='resource.type = "pubsub_subscription"'
        f" AND resource.labels.subscription_id = {subscriptions}"
        f' AND metric.type = "pubsub.googleapis.com/subscription/{metric}"',
        comparison="COMPARISON_GT",
        threshold=threshold,
        aligner="ALIGN_MAX",
        alignment_seconds=300,
        duration_seconds=0,
    )


def topic_alarms(
    props: PubSubTaskTopicProps, dead_letter_subscription: str | None
) -> list[Alarm[MonitoringThreshold]]:
    """The topic's alarms; none without `alarms`. `dead_letter_subscription`: the dead-letter
    subscription's name (a reference to it), None without dead-lettering.

    The oldest task's age is one policy for every task subscription, not one each: its
    condition keeps a time series per subscription, so an incident names the subscription at
    fault, and the count of policies does not grow with the workers.
    """
    if not props.alarms:
        return []
    name = props.subscription_name
    alarms = []
    if dead_letter_subscription is not None:
        what = f"{name}-dead-letter: a dead letter is waiting"
        alarms.append(
            Alarm(
                key="dead_letter_alert",
                name=what,
                watch=_largest_over_five_minutes(
                    f'"{dead_letter_subscription}"', "num_undelivered_messages", 0
                ),
                description="a task failed too often and was moved to the dead-letter topic",
                cannot_see="an open incident closes once the policy has had no data for the"
                " auto-close duration (Cloud Monitoring's default); the dead letter stays 31"
                " days",
            )
        )
    # The shared subscription and every worker's; not the dead-letter one (its own alert).
    literal = re.sub(r"[.+]", lambda m: f"[{m[0]}]", name)
    seconds = props.oldest_message_alarm_seconds
    alarms.append(
        Alarm(
            key="oldest_task_alert",
            name=f"{name}, {name}-worker-*: a task waited over {seconds} s",
            watch=_largest_over_five_minutes(
                f'monitoring.regex.full_match("{literal}(-worker-[0-9]+)?")',
                "oldest_unacked_message_age",
                seconds,
            ),
            description="a task has waited too long on the subscription the incident names:"
            " are its workers consuming?",
            cannot_see="a task a worker keeps extending (ModifyAckDeadline) past the props'"
            " arithmetic; Pub/Sub's delivery attempts and backoff are best effort",
        )
    )
    return alarms
