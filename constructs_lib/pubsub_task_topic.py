"""A Pub/Sub topic for training tasks, the subscriptions workers pull from, and dead letters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdktf import TerraformResourceLifecycle
from constructs import Construct

from constructs_lib import limits
from constructs_lib.providers import (
    DataGoogleProject,
    KmsCryptoKeyIamMember,
    MonitoringAlertPolicy,
    MonitoringAlertPolicyConditions,
    MonitoringAlertPolicyConditionsConditionThreshold,
    MonitoringAlertPolicyConditionsConditionThresholdAggregations,
    MonitoringAlertPolicyDocumentation,
    PubsubSubscription,
    PubsubSubscriptionDeadLetterPolicy,
    PubsubSubscriptionExpirationPolicy,
    PubsubSubscriptionIamMember,
    PubsubSubscriptionRetryPolicy,
    PubsubTopic,
    PubsubTopicIamMember,
)
from constructs_lib.scan_exceptions import skip_check

# Dead letters are kept as long as Pub/Sub allows: someone has to look at them.
_LONGEST_RETENTION = f"{limits.PUBSUB_RETENTION_SECONDS.high}s"


class PubSubTaskTopic(Construct):
    """A topic, a shared pull subscription and one filtered subscription per worker.

    Pub/Sub gives every subscription its own copy of a message, so routing works by filter:
    worker N's subscription takes messages whose `worker` attribute is `worker_N`, and the
    shared subscription takes those without the attribute ("any worker"). With no workers
    the shared subscription takes everything, as in the seed. Filters are immutable: changing
    one (or the worker count from 0) replaces the subscription.

    A message that fails `max_delivery_attempts` times goes to a dead-letter topic, which
    has its own subscription so that dead letters are kept (a topic without subscriptions
    drops what is published to it). Pub/Sub's service agent moves them and needs publisher
    on the dead-letter topic and subscriber on each source subscription; without that IAM,
    Pub/Sub does not even count delivery attempts.

    Cloud Monitoring alerting policies fire when a task waits too long on any task
    subscription (nobody is consuming) and when a dead letter arrives, like the SQS alarms.
    Alerting policies take `user_labels`, which the provider's default labels do not reach,
    so the construct sets `labels` on them itself.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic_name: str = "mlTrainingTopic",
        subscription_name: str = "mlTrainingSubscription",
        workers: int = 0,
        shared_subscription: bool = True,
        ack_deadline_seconds: int = 10,
        message_retention_seconds: int = 604_800,
        dead_letter: bool = True,
        max_delivery_attempts: int = 5,
        minimum_backoff_seconds: int = 10,
        maximum_backoff_seconds: int = 600,
        exactly_once_delivery: bool = False,
        message_ordering: bool = False,
        kms_key_name: str | None = None,
        alerts: bool = True,
        oldest_message_alert_seconds: int = 3600,
        alert_notification_channel: str | None = None,
        labels: Mapping[str, str] | None = None,
        project: str | None = None,
        prevent_destroy: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self._where = limits.environment_of(self)
        worker_names = [f"{subscription_name}-worker-{n}" for n in range(1, workers + 1)]
        checks: list[tuple[str, object, limits.Rule]] = [
            ("topic_name", topic_name, limits.PUBSUB_NAME),
            ("subscription_name", subscription_name, limits.PUBSUB_NAME),
            ("workers", workers, limits.IntRange(0)),
            ("ack_deadline_seconds", ack_deadline_seconds, limits.PUBSUB_ACK_DEADLINE_SECONDS),
            (
                "message_retention_seconds",
                message_retention_seconds,
                limits.PUBSUB_RETENTION_SECONDS,
            ),
            ("max_delivery_attempts", max_delivery_attempts, limits.PUBSUB_DELIVERY_ATTEMPTS),
            ("minimum_backoff_seconds", minimum_backoff_seconds, limits.PUBSUB_BACKOFF_SECONDS),
            (
                "maximum_backoff_seconds",
                maximum_backoff_seconds,
                limits.IntRange(minimum_backoff_seconds, limits.PUBSUB_BACKOFF_SECONDS.high),
            ),
            *(("worker subscription name", name, limits.PUBSUB_NAME) for name in worker_names),
        ]
        if dead_letter:
            checks += [
                ("dead-letter topic name", f"{topic_name}-dead-letter", limits.PUBSUB_NAME),
                (
                    "dead-letter subscription name",
                    f"{subscription_name}-dead-letter",
                    limits.PUBSUB_NAME,
                ),
            ]
        if kms_key_name is not None:
            checks.append(("kms_key_name", kms_key_name, limits.GCP_KMS_KEY))
        if alerts:
            checks.append(
                (
                    "oldest_message_alert_seconds (at most the subscriptions' retention)",
                    oldest_message_alert_seconds,
                    # Retention is checked above; the age cannot exceed it.
                    limits.IntRange(limits.PUBSUB_ALERT_AGE_SECONDS.low, message_retention_seconds),
                )
            )
        if alert_notification_channel is not None:
            checks.append(
                (
                    "alert_notification_channel",
                    alert_notification_channel,
                    limits.GCP_NOTIFICATION_CHANNEL,
                )
            )
        for field, value, rule in checks:
            limits.check(value, rule, field=f"PubSubTaskTopic.{field}", where=self._where)
        if not shared_subscription and workers == 0:
            raise limits.LimitError(
                f"{self._where}: PubSubTaskTopic.shared_subscription = False is not allowed"
                " with workers = 0; expected a shared subscription or at least one worker"
                " (a topic without subscriptions drops every task)"
            )

        self._lifecycle = (
            TerraformResourceLifecycle(prevent_destroy=True) if prevent_destroy else None
        )
        self._alerts = alerts
        self._alert_channels = (
            [alert_notification_channel] if alert_notification_channel is not None else None
        )
        self._labels = dict(labels) if labels is not None else None
        self._project = DataGoogleProject(self, "project", project_id=project)
        self._agent = (
            f"serviceAccount:service-{self._project.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
        )
        encryption = self._encryption(kms_key_name)
        topics = []
        self._topic = PubsubTopic(
            self, "topic", name=topic_name, lifecycle=self._lifecycle, **encryption
        )
        topics.append(self._topic)
        dead_letter_topic = None
        if dead_letter:
            dead_letter_topic = PubsubTopic(
                self,
                "dead_letter_topic",
                name=f"{topic_name}-dead-letter",
                message_retention_duration=_LONGEST_RETENTION,
                lifecycle=self._lifecycle,
                **encryption,
            )
            topics.append(dead_letter_topic)
            dead_letter_subscription = self._subscription_on(
                "dead_letter_subscription",
                name=f"{subscription_name}-dead-letter",
                topic=dead_letter_topic.name,
                message_retention_duration=_LONGEST_RETENTION,
            )
            self._alert(
                "dead_letter_alert",
                dead_letter_subscription,
                metric="num_undelivered_messages",
                threshold=0,
                what=f"{subscription_name}-dead-letter: a dead letter is waiting",
                why="a task failed too often and was moved to the dead-letter topic",
            )
            PubsubTopicIamMember(
                self,
                "dead_letter_publisher",
                topic=dead_letter_topic.name,
                role="roles/pubsub.publisher",
                member=self._agent,
            )

        if kms_key_name is None:
            for topic in topics:
                skip_check(
                    topic,
                    "CKV_GCP_83",
                    reason="Pub/Sub encrypts every topic with Google-managed keys; a"
                    " customer-managed key is optional (kms_key_name) and none was given",
                )

        def task_subscription(id: str, name: str, filter: str | None) -> PubsubSubscription:
            subscription = self._subscription_on(
                id,
                name=name,
                topic=self._topic.name,
                filter=filter,
                ack_deadline_seconds=ack_deadline_seconds,
                message_retention_duration=f"{message_retention_seconds}s",
                retry_policy=PubsubSubscriptionRetryPolicy(
                    minimum_backoff=f"{minimum_backoff_seconds}s",
                    maximum_backoff=f"{maximum_backoff_seconds}s",
                ),
                dead_letter_policy=(
                    PubsubSubscriptionDeadLetterPolicy(
                        dead_letter_topic=dead_letter_topic.id,
                        max_delivery_attempts=max_delivery_attempts,
                    )
                    if dead_letter_topic is not None
                    else None
                ),
                enable_exactly_once_delivery=exactly_once_delivery or None,
                enable_message_ordering=message_ordering or None,
            )
            if dead_letter_topic is not None:
                PubsubSubscriptionIamMember(
                    self,
                    f"{id}_dead_letter_subscriber",
                    subscription=subscription.name,
                    role="roles/pubsub.subscriber",
                    member=self._agent,
                )
            self._alert(
                f"{id}_oldest_task_alert",
                subscription,
                metric="oldest_unacked_message_age",
                threshold=oldest_message_alert_seconds,
                what=f"{name}: a task waited over {oldest_message_alert_seconds} s",
                why="a task has waited too long: are the workers consuming?",
            )
            return subscription

        self._shared = (
            task_subscription(
                "subscription", subscription_name, "NOT attributes:worker" if workers else None
            )
            if shared_subscription
            else None
        )
        self._workers = [
            task_subscription(f"worker_{n}_subscription", name, f'attributes.worker = "worker_{n}"')
            for n, name in enumerate(worker_names, start=1)
        ]

    def _encryption(self, kms_key_name: str | None) -> dict[str, Any]:
        """CMEK needs the service agent to use the key before any topic is created with it."""
        if kms_key_name is None:
            return {}
        grant = KmsCryptoKeyIamMember(
            self,
            "kms_encrypter_decrypter",
            crypto_key_id=kms_key_name,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=self._agent,
        )
        return {"kms_key_name": kms_key_name, "depends_on": [grant]}

    def _alert(
        self,
        id: str,
        subscription: PubsubSubscription,
        *,
        metric: str,
        threshold: int,
        what: str,
        why: str,
    ) -> None:
        """The largest value in five minutes above `threshold`, as the SQS alarms measure."""
        if not self._alerts:
            return
        MonitoringAlertPolicy(
            self,
            id,
            display_name=what,
            combiner="OR",
            conditions=[
                MonitoringAlertPolicyConditions(
                    display_name=what,
                    condition_threshold=MonitoringAlertPolicyConditionsConditionThreshold(
                        filter=(
                            'resource.type = "pubsub_subscription"'
                            f' AND resource.labels.subscription_id = "{subscription.name}"'
                            f' AND metric.type = "pubsub.googleapis.com/subscription/{metric}"'
                        ),
                        comparison="COMPARISON_GT",
                        threshold_value=threshold,
                        duration="0s",
                        aggregations=[
                            MonitoringAlertPolicyConditionsConditionThresholdAggregations(
                                alignment_period="300s", per_series_aligner="ALIGN_MAX"
                            )
                        ],
                    ),
                )
            ],
            documentation=MonitoringAlertPolicyDocumentation(
                content=why, mime_type="text/markdown"
            ),
            notification_channels=self._alert_channels,
            user_labels=self._labels,
        )

    def _subscription_on(self, id: str, **arguments: Any) -> PubsubSubscription:
        """Task subscriptions never expire: an idle week must not delete the worker's queue."""
        return PubsubSubscription(
            self,
            id,
            expiration_policy=PubsubSubscriptionExpirationPolicy(ttl=""),
            lifecycle=self._lifecycle,
            **arguments,
        )

    def grant_publish(self, id: str, *, member: str) -> PubsubTopicIamMember:
        """Let `member` (e.g. 'serviceAccount:...') publish tasks to the topic, nothing else."""
        return PubsubTopicIamMember(
            self, id, topic=self._topic.name, role="roles/pubsub.publisher", member=member
        )

    def grant_consume(
        self, id: str, *, member: str, worker: int | None
    ) -> PubsubSubscriptionIamMember:
        """Let `member` pull from worker `worker`'s own subscription (None: the shared one)."""
        if worker is None and self._shared is not None:
            subscription = self._shared
        elif worker is not None and 1 <= worker <= len(self._workers):
            subscription = self._workers[worker - 1]
        else:
            raise limits.LimitError(
                f"{self._where}: PubSubTaskTopic.grant_consume worker = {worker!r} is not"
                f" allowed; expected an integer from 1 to {len(self._workers)}"
                + (" or None (the shared subscription)" if self._shared is not None else "")
            )
        return PubsubSubscriptionIamMember(
            self, id, subscription=subscription.name, role="roles/pubsub.subscriber", member=member
        )

    @property
    def topic_name(self) -> str:
        return self._topic.name

    @property
    def subscription_name(self) -> str | None:
        """The shared subscription; None when there is none."""
        return self._shared.name if self._shared else None

    @property
    def topic_path(self) -> str:
        """`projects/P/topics/T`, what publishers pass to the API."""
        return self._topic.id

    @property
    def subscription_path(self) -> str | None:
        """`projects/P/subscriptions/S` of the shared subscription; None when there is none."""
        return self._shared.id if self._shared else None

    @property
    def worker_subscription_paths(self) -> list[str]:
        """In worker order: what worker N passes to the API to pull its tasks."""
        return [subscription.id for subscription in self._workers]

    @property
    def worker_subscription_names(self) -> list[str]:
        """In worker order (worker 1 first)."""
        return [subscription.name for subscription in self._workers]

    @staticmethod
    def worker_attribute(worker: int) -> tuple[str, str]:
        """The message attribute that routes a task to `worker`."""
        return "worker", f"worker_{worker}"
