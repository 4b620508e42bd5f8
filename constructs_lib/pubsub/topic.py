"""A Pub/Sub topic for training tasks, the subscriptions workers pull from, and dead letters."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from constructs_lib import limits
from constructs_lib.alarms.cloud_monitoring import alert_policies
from constructs_lib.channel import ChannelOutput, worker_index
from constructs_lib.jsii_cache import attribute
from constructs_lib.props import check_props
from constructs_lib.providers import (
    DataGoogleProject,
    KmsCryptoKeyIamMember,
    PubsubSubscription,
    PubsubSubscriptionDeadLetterPolicy,
    PubsubSubscriptionExpirationPolicy,
    PubsubSubscriptionIamMember,
    PubsubSubscriptionRetryPolicy,
    PubsubTopic,
    PubsubTopicIamMember,
)
from constructs_lib.pubsub.alarms import topic_alarms
from constructs_lib.pubsub.backend import PubSubProducerWiring, PubSubWorkerWiring
from constructs_lib.pubsub.props import PubSubTaskTopicProps
from constructs_lib.replacement import replaced_with
from constructs_lib.scan_exceptions import skip_check

# Dead letters are kept as long as Pub/Sub allows: someone has to look at them.
_LONGEST_RETENTION = f"{limits.PUBSUB_RETENTION_SECONDS.high}s"


class PubSubTaskTopic(Construct):
    """A topic and a pull subscription per worker, and a shared pair for any worker.

    Each worker has a topic of its own (`<topic>-worker-<n>`) with one subscription, so a
    task published there is delivered, and billed, once whatever the number of workers; with
    filtered subscriptions on one topic every task was billed once per subscription, and a
    task whose `worker` attribute named no subscription was acknowledged and gone. Now a
    publish to a worker that does not exist fails at the producer (NOT_FOUND). The shared
    topic (the seed's name) and its subscription take tasks for any worker; without
    `shared` there is no shared topic at all, since a topic without a subscription drops
    what is published to it.

    A message that fails `max_delivery_attempts` times goes to a dead-letter topic, which
    has its own subscription so that dead letters are kept. Pub/Sub's service agent moves
    them and needs publisher on the dead-letter topic and subscriber on each source
    subscription; without that IAM, Pub/Sub does not even count delivery attempts.

    Cloud Monitoring alerting policies fire when a task waits too long on any task
    subscription (nobody is consuming) and when a dead letter arrives, like the SQS alarms.
    Alerting policies take `user_labels`, which the provider's default labels do not reach;
    the stack's `CommonLabels` aspect sets them.
    """

    def __init__(self, scope: Construct, id: str, props: PubSubTaskTopicProps) -> None:
        super().__init__(scope, id)
        self._where = self.node.path
        check_props(props, owner="PubSubTaskTopic", where=self._where)
        self._props = props
        self._project = DataGoogleProject(self, "project", project_id=props.project)
        self._agent = (
            f"serviceAccount:service-{self._project.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
        )
        self._encryption_settings = self._encryption(props.kms_key)
        self._dead_letter_subscription: PubsubSubscription | None = None
        self._dead_letter_topic = self._dead_letters() if props.dead_letter else None
        self._topic = self._task_topic("topic", props.topic_name) if props.shared else None
        self._shared = (
            self._task_subscription("subscription", props.subscription_name, self._topic)
            if self._topic is not None
            else None
        )
        self._worker_topics = [
            self._task_topic(f"worker_{n}_topic", f"{props.topic_name}-worker-{n}")
            for n in range(1, props.workers + 1)
        ]
        self._workers = [
            self._task_subscription(
                f"worker_{n}_subscription", f"{props.subscription_name}-worker-{n}", topic
            )
            for n, topic in enumerate(self._worker_topics, start=1)
        ]
        dead_letters = self._dead_letter_subscription
        alert_policies(
            self,
            topic_alarms(
                props, attribute(dead_letters, "name") if dead_letters is not None else None
            ),
            target=props.alarm_target,
            email=props.alarm_email,
            channel_id="alarm_channel",
            channel_name=f"{props.subscription_name} alerts",
        )

    def _task_topic(self, id: str, name: str, **arguments: Any) -> PubsubTopic:
        topic = PubsubTopic(self, id, name=name, **self._encryption_settings, **arguments)
        if self._props.kms_key is None:
            skip_check(
                topic,
                "CKV_GCP_83",
                reason="Pub/Sub encrypts every topic with Google-managed keys; a"
                " customer-managed key is optional (kms_key) and none was given",
            )
        return topic

    def _dead_letters(self) -> PubsubTopic:
        """The dead-letter topic, a subscription that keeps what lands there, and the service
        agent's right to publish to it."""
        name = f"{self._props.subscription_name}-dead-letter"
        topic = self._task_topic(
            "dead_letter_topic",
            f"{self._props.topic_name}-dead-letter",
            message_retention_duration=_LONGEST_RETENTION,
        )
        self._dead_letter_subscription = self._subscription_on(
            "dead_letter_subscription",
            name=name,
            topic=topic,
            message_retention_duration=_LONGEST_RETENTION,
        )
        self._publisher("dead_letter_publisher", topic, self._agent)
        return topic

    def _task_subscription(self, id: str, name: str, topic: PubsubTopic) -> PubsubSubscription:
        props = self._props
        subscription = self._subscription_on(
            id,
            name=name,
            topic=topic,
            ack_deadline_seconds=props.ack_deadline_seconds,
            message_retention_duration=f"{props.message_retention_seconds}s",
            retry_policy=PubsubSubscriptionRetryPolicy(
                minimum_backoff=f"{props.minimum_backoff_seconds}s",
                maximum_backoff=f"{props.maximum_backoff_seconds}s",
            ),
            dead_letter_policy=(
                PubsubSubscriptionDeadLetterPolicy(
                    dead_letter_topic=attribute(self._dead_letter_topic, "id"),
                    max_delivery_attempts=props.max_delivery_attempts,
                )
                if self._dead_letter_topic is not None
                else None
            ),
            enable_exactly_once_delivery=props.exactly_once_delivery or None,
            enable_message_ordering=props.message_ordering or None,
        )
        if self._dead_letter_topic is not None:
            self._subscriber(f"{id}_dead_letter_subscriber", subscription, self._agent)
        return subscription

    def _encryption(self, kms_key: str | None) -> dict[str, Any]:
        """CMEK needs the service agent to use the key before any topic is created with it."""
        if kms_key is None:
            return {}
        grant = KmsCryptoKeyIamMember(
            self,
            "kms_encrypter_decrypter",
            crypto_key_id=kms_key,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=self._agent,
        )
        return {"kms_key_name": kms_key, "depends_on": [grant]}

    def _subscription_on(
        self, id: str, *, topic: PubsubTopic, **arguments: Any
    ) -> PubsubSubscription:
        """Task subscriptions never expire: an idle week must not delete the worker's queue.
        A subscription of a replaced topic would receive nothing more, so it goes with it."""
        return PubsubSubscription(
            self,
            id,
            topic=attribute(topic, "name"),
            expiration_policy=PubsubSubscriptionExpirationPolicy(ttl=""),
            lifecycle=replaced_with(topic),
            **arguments,
        )

    def grant_publish(self, principal: str) -> None:
        """`principal` is an IAM member ('serviceAccount:...'): publish to every task topic,
        nothing else."""
        topics = [(f"pubsub_worker_{n}_producer_grant", topic) for n, topic in self._numbered()]
        if self._topic is not None:
            topics.insert(0, ("pubsub_producer_grant", self._topic))
        for id, topic in topics:
            self._publisher(id, topic, principal)

    def _numbered(self) -> list[tuple[int, PubsubTopic]]:
        return list(enumerate(self._worker_topics, start=1))

    def grant_consume(self, principal: str, worker: int) -> None:
        """`principal` is an IAM member: pull from worker `worker`'s own subscription and the
        shared one."""
        grants = [(f"pubsub_worker_{worker}_grant", self._worker(worker, "grant_consume"))]
        if self._shared is not None:
            grants.append((f"pubsub_shared_worker_{worker}_grant", self._shared))
        for id, subscription in grants:
            self._subscriber(id, subscription, principal)

    def _publisher(self, id: str, topic: PubsubTopic, member: str) -> None:
        """`member` may publish to `topic`, replaced with it (constructs_lib/replacement.py):
        a new topic of the same name starts without the old one's members."""
        PubsubTopicIamMember(
            self,
            id,
            topic=attribute(topic, "name"),
            role="roles/pubsub.publisher",
            member=member,
            lifecycle=replaced_with(topic),
        )

    def _subscriber(self, id: str, subscription: PubsubSubscription, member: str) -> None:
        """`member` may pull from `subscription`, replaced with it as `_publisher` is."""
        PubsubSubscriptionIamMember(
            self,
            id,
            subscription=attribute(subscription, "name"),
            role="roles/pubsub.subscriber",
            member=member,
            lifecycle=replaced_with(subscription),
        )

    def _worker(self, worker: int, what: str) -> PubsubSubscription:
        index = worker_index(
            worker, len(self._workers), method=f"PubSubTaskTopic.{what}", where=self._where
        )
        return self._workers[index]

    @property
    def worker_addresses(self) -> list[str]:
        """`projects/P/subscriptions/S` of each worker's subscription, worker 1 first."""
        return [attribute(subscription, "id") for subscription in self._workers]

    @property
    def shared_address(self) -> str | None:
        return attribute(self._shared, "id") if self._shared is not None else None

    @property
    def topic_path(self) -> str | None:
        """`projects/P/topics/T` of the shared topic, what publishers pass to the API; None
        when there is none."""
        return attribute(self._topic, "id") if self._topic is not None else None

    @property
    def worker_topic_paths(self) -> list[str]:
        """`projects/P/topics/T` of each worker's topic, worker 1 first."""
        return [attribute(topic, "id") for topic in self._worker_topics]

    def producer_wiring(self) -> PubSubProducerWiring:
        return PubSubProducerWiring(topic=self.topic_path, worker_topics=self.worker_topic_paths)

    def worker_wiring(self, worker: int) -> PubSubWorkerWiring:
        return PubSubWorkerWiring(
            subscription=attribute(self._worker(worker, "worker_wiring"), "id"),
            shared_subscription=self.shared_address,
        )

    def outputs(self) -> list[ChannelOutput]:
        outputs = []
        if self._topic is not None and self._shared is not None:
            outputs += [
                ChannelOutput(
                    "ml_training_topic_name",
                    attribute(self._topic, "name"),
                    "name of the shared task topic",
                ),
                ChannelOutput(
                    "ml_training_subscription_name",
                    attribute(self._shared, "name"),
                    "name of the shared subscription, for tasks any worker may take",
                ),
            ]
        outputs += [
            ChannelOutput(
                "pubsub_worker_topic_names",
                [attribute(topic, "name") for topic in self._worker_topics],
                "name of each worker's topic, worker 1 first: publish there to reach it",
            ),
            ChannelOutput(
                "pubsub_worker_subscription_names",
                [attribute(subscription, "name") for subscription in self._workers],
                "name of each worker's own subscription, worker 1 first",
            ),
        ]
        return outputs
