"""The CloudWatch renderer: a catalogue's alarms as CloudWatch metric alarms, and the SNS topic
they notify when the stack owns it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cdktf import Fn
from constructs import Construct

from constructs_lib.alarms import Alarm, Metric, MetricsInsights, destinations
from constructs_lib.jsii_cache import attribute
from constructs_lib.providers import (
    CloudwatchMetricAlarm,
    CloudwatchMetricAlarmMetricQuery,
    SnsTopic,
    SnsTopicPolicy,
    SnsTopicSubscription,
)
from constructs_lib.scan_exceptions import skip_check


def metric_alarms(
    scope: Construct,
    alarms: Sequence[Alarm[MetricsInsights | Metric]],
    *,
    target: str | None,
    email: str | None,
    topic_id: str,
    name: str,
) -> None:
    """Each alarm in `scope` under its key, notifying `target` (an `alarm_target`). With
    'own', the topic `<name>-alarms` is made in `scope` (ids from `topic_id`) for `email`;
    no alarm, no topic."""
    if not alarms:
        return
    actions = destinations(
        target, email, lambda address: _alarm_topic(scope, topic_id, name=name, email=address)
    )
    for alarm in alarms:
        condition = alarm.watch.condition
        CloudwatchMetricAlarm(
            scope,
            alarm.key,
            alarm_name=alarm.name,
            alarm_description=alarm.description,
            **_watched(alarm.watch),
            evaluation_periods=1,
            threshold=condition.threshold,
            comparison_operator=condition.comparison,
            treat_missing_data=condition.missing_data,
            alarm_actions=actions,
            ok_actions=actions if condition.notify_ok else None,
        )


def _watched(watch: MetricsInsights | Metric) -> dict[str, Any]:
    if isinstance(watch, MetricsInsights):
        query = CloudwatchMetricAlarmMetricQuery(
            id="queues",
            expression=watch.query,
            period=watch.condition.period_seconds,
            return_data=True,
        )
        return {"metric_query": [query]}
    return {
        "namespace": watch.namespace,
        "metric_name": watch.metric,
        "dimensions": dict(watch.dimensions),
        "statistic": watch.statistic,
        "period": watch.condition.period_seconds,
    }


def _alarm_topic(scope: Construct, id: str, *, name: str, email: str) -> str:
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
