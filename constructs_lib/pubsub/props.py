"""Pub/Sub settings: what a task channel of topics and subscriptions takes, and its rules.

No jsii here: the config loader reads these without loading cdktf.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from constructs_lib import limits
from constructs_lib.props import CrossRule, FromEnvironment, setting


def _names_fit(field: str) -> Callable[[Mapping[str, Any]], str | None]:
    """The names made from `field` (the topic's or the subscription's): itself, the last
    worker's and the dead-letter one, the longest there are."""

    def rule(values: Mapping[str, Any]) -> str | None:
        base, workers = values[field], values["workers"]
        names = [base]
        if workers:
            names.append(f"{base}-worker-{workers}")
        if values["dead_letter"]:
            names.append(f"{base}-dead-letter")
        return limits.names_fit(names, limits.PUBSUB_NAME, what="a name")

    return rule


def _backoff_in_order(values: Mapping[str, Any]) -> str | None:
    if values["maximum_backoff_seconds"] < values["minimum_backoff_seconds"]:
        return f"expected at least minimum_backoff_seconds = {values['minimum_backoff_seconds']}"
    return None


def _alarm_can_fire(values: Mapping[str, Any]) -> str | None:
    retention = values["message_retention_seconds"]
    if values["alarms"] and values["oldest_message_alarm_seconds"] > retention:
        return (
            f"expected at most message_retention_seconds = {retention}: no task waits longer,"
            " so the alarm could never fire"
        )
    return None


def _dead_lettered_before_expiry(values: Mapping[str, Any]) -> str | None:
    """A task that fails every time stays with a worker for `ack_deadline_seconds` per
    attempt, and waits up to `maximum_backoff_seconds` between attempts ("RetryPolicy will be
    triggered on NACKs or acknowledgement deadline exceeded events", Pub/Sub's RetryPolicy);
    after `max_delivery_attempts` Pub/Sub forwards it to the dead-letter topic. The
    subscription deletes it at `message_retention_seconds` after publishing, so the attempts
    must all fit before that or the task expires without reaching the dead-letter topic,
    whose alert is the one that would have told someone."""
    if not values["dead_letter"]:
        return None
    attempts, deadline = values["max_delivery_attempts"], values["ack_deadline_seconds"]
    backoff, retention = values["maximum_backoff_seconds"], values["message_retention_seconds"]
    # Every attempt but the last is followed by a backoff: `attempts` x (deadline + backoff),
    # less one backoff.
    late = limits.dead_lettered_too_late(
        attempts,
        first=-backoff,
        each=deadline + backoff,
        retention=retention,
        rule=limits.PUBSUB_DELIVERY_ATTEMPTS,
        otherwise="a longer message_retention_seconds or a shorter maximum_backoff_seconds, as"
        f" no count from {limits.PUBSUB_DELIVERY_ATTEMPTS.low} fits",
    )
    if late is None:
        return None
    longest, allowed = late
    return (
        f"expected {allowed}: {attempts} attempts x ack_deadline_seconds {deadline}"
        f" (max_task_duration_seconds) +"
        f" {attempts - 1} x maximum_backoff_seconds {backoff} = {longest} s is not below"
        f" message_retention_seconds = {retention}, so a failing task could expire before"
        " Pub/Sub forwards it to the dead-letter topic"
    )


def _someone_subscribes(values: Mapping[str, Any]) -> str | None:
    if not values["shared"] and values["workers"] == 0:
        return "expected true with workers = 0: a topic without subscriptions drops every task"
    return None


@dataclass(frozen=True, kw_only=True)
class PubSubTaskTopicProps:
    """The `[pubsub]` table: the project, the subscriptions, dead letters, alarms, grants."""

    CROSS_RULES: ClassVar[tuple[CrossRule, ...]] = (
        CrossRule("topic_name", _names_fit("topic_name")),
        CrossRule("subscription_name", _names_fit("subscription_name")),
        CrossRule("maximum_backoff_seconds", _backoff_in_order),
        CrossRule("oldest_message_alarm_seconds", _alarm_can_fire),
        CrossRule("shared", _someone_subscribes),
        CrossRule("max_delivery_attempts", _dead_lettered_before_expiry),
        CrossRule("alarm_email", limits.alarm_email_fits),
    )

    project: str = setting(rule=limits.GCP_PROJECT_ID, meaning="Google Cloud project ID")
    region: str | None = setting(
        None, rule=limits.GCP_REGION, meaning="Google Cloud region for the provider"
    )
    topic_name: str = setting(
        "mlTrainingTopic",
        rule=limits.PUBSUB_NAME,
        config=False,
        meaning="the shared task topic; worker n's is `<name>-worker-<n>`",
    )
    subscription_name: str = setting(
        "mlTrainingSubscription",
        rule=limits.PUBSUB_NAME,
        config=False,
        meaning="the shared subscription; worker n's is `<name>-worker-<n>`",
    )
    workers: int = setting(
        0,
        rule=limits.IntRange(0, limits.MAX_WORKERS, because=limits.WORKER_COUNT.because),
        from_environment=FromEnvironment("workers"),
        meaning="one topic and subscription each",
    )
    ack_deadline_seconds: int = setting(
        10,
        rule=limits.PUBSUB_ACK_DEADLINE_SECONDS,
        from_environment=FromEnvironment(
            "max_task_duration_seconds",
            "Pub/Sub's ack deadline",
            "extend it with ModifyAckDeadline",
        ),
        meaning="how long a pulled task stays with its worker",
    )
    message_retention_seconds: int = setting(
        604_800,
        rule=limits.PUBSUB_RETENTION_SECONDS,
        meaning="how long a subscription keeps unacknowledged tasks",
    )
    max_delivery_attempts: int = setting(
        5,
        rule=limits.PUBSUB_DELIVERY_ATTEMPTS,
        meaning="before a task goes to the dead-letter topic; this x the ack deadline + one"
        " fewer x `maximum_backoff_seconds` must stay below `message_retention_seconds`, or a"
        " failing task expires first",
    )
    minimum_backoff_seconds: int = setting(
        10, rule=limits.PUBSUB_BACKOFF_SECONDS, meaning="retry backoff after a nack"
    )
    maximum_backoff_seconds: int = setting(
        600, rule=limits.PUBSUB_BACKOFF_SECONDS, meaning="retry backoff, at least the minimum"
    )
    shared: bool = setting(
        True,
        meaning="besides a topic and subscription per worker, a shared pair (the seed's"
        " topic) for tasks any worker may take; `false`: no shared topic at all",
    )
    dead_letter: bool = setting(
        True,
        meaning="topic `<topic>-dead-letter` (kept 31 days) with its own subscription, and the"
        " service agent's IAM",
    )
    exactly_once_delivery: bool = setting(
        False, meaning="exactly-once delivery on the task subscriptions"
    )
    message_ordering: bool = setting(
        False, meaning="ordered delivery; immutable: changing it replaces them"
    )
    kms_key: str | None = setting(
        None,
        rule=limits.GCP_KMS_KEY,
        meaning="CMEK for every topic; the service agent may use the key",
    )
    alarms: bool = setting(
        True,
        meaning="two Cloud Monitoring alerting policies, whatever the workers: a dead letter"
        " waiting, and the oldest task's age on every task subscription (an incident names the"
        " subscription)",
    )
    oldest_message_alarm_seconds: int = setting(
        3600,
        rule=limits.PUBSUB_ALERT_AGE_SECONDS,
        meaning="alarm when the oldest unacknowledged task waited longer; at most"
        " `message_retention_seconds`",
    )
    alarm_target: str | None = setting(
        None,
        rule=limits.GCP_ALARM_TARGET,
        required_in=limits.ALARMED_ENVIRONMENTS,
        meaning="notification channel the alarms notify; `own`: an email channel the stack"
        " creates for `alarm_email`; `none` or unset: alarms without notifications, incidents"
        " in the console only (prod must say which)",
    )
    alarm_email: str | None = setting(
        None,
        rule=limits.EMAIL_ADDRESS,
        meaning='with `alarm_target = "own"`: the address of the stack\'s email channel',
    )
    producer: str | None = setting(
        None,
        rule=limits.IAM_MEMBER,
        meaning="IAM member that may publish to every task topic (the shared and each worker's)",
    )
    worker_template: str | None = setting(
        None,
        rule=limits.IAM_MEMBER_TEMPLATE,
        meaning="IAM member of worker `{worker}`: pull from its own subscription and the"
        " shared one",
    )
