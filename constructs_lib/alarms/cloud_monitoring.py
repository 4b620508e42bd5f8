"""The Cloud Monitoring renderer: a catalogue's alarms as alerting policies, and the email
notification channel they notify when the stack owns it."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from constructs_lib.alarms import Alarm, MonitoringThreshold, destinations
from constructs_lib.jsii_cache import attribute
from constructs_lib.providers import (
    MonitoringAlertPolicy,
    MonitoringAlertPolicyConditions,
    MonitoringAlertPolicyConditionsConditionThreshold,
    MonitoringAlertPolicyConditionsConditionThresholdAggregations,
    MonitoringAlertPolicyDocumentation,
    MonitoringNotificationChannel,
)


def alert_policies(
    scope: Construct,
    alarms: Sequence[Alarm[MonitoringThreshold]],
    *,
    target: str | None,
    email: str | None,
    channel_id: str,
    channel_name: str,
) -> None:
    """Each alarm an alerting policy in `scope` under its key, its one condition and the
    policy named after the alarm, its description the policy's documentation, notifying
    `target` (an `alarm_target`). With 'own', an email channel `channel_name` is made in
    `scope` under `channel_id` for `email`; no alarm, no channel.

    Alerting policies notify only the channels they name; without one an incident shows in
    the console and reaches nobody. They take `user_labels`, which the provider's default
    labels do not reach: the stack's `CommonLabels` aspect sets them.
    """
    if not alarms:
        return
    channels = destinations(
        target,
        email,
        lambda address: _email_channel(scope, channel_id, name=channel_name, email=address),
    )
    for alarm in alarms:
        watch = alarm.watch
        MonitoringAlertPolicy(
            scope,
            alarm.key,
            display_name=alarm.name,
            combiner="OR",
            conditions=[
                MonitoringAlertPolicyConditions(
                    display_name=alarm.name,
                    condition_threshold=MonitoringAlertPolicyConditionsConditionThreshold(
                        filter=watch.filter,
                        comparison=watch.comparison,
                        threshold_value=watch.threshold,
                        duration=f"{watch.duration_seconds}s",
                        aggregations=[
                            MonitoringAlertPolicyConditionsConditionThresholdAggregations(
                                alignment_period=f"{watch.alignment_seconds}s",
                                per_series_aligner=watch.aligner,
                            )
                        ],
                    ),
                )
            ],
            documentation=MonitoringAlertPolicyDocumentation(
                content=alarm.description, mime_type="text/markdown"
            ),
            notification_channels=channels,
        )


def _email_channel(scope: Construct, id: str, *, name: str, email: str) -> str:
    """An email notification channel for `email`: its name
    (`projects/P/notificationChannels/ID`), which the policies notify."""
    channel = MonitoringNotificationChannel(
        scope, id, display_name=name, type="email", labels={"email_address": email}
    )
    return attribute(channel, "name")
