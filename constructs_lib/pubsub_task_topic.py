"""A Pub/Sub topic for training tasks and the subscription workers pull them from."""

from __future__ import annotations

from constructs import Construct

from constructs_lib import limits
from constructs_lib.providers import PubsubSubscription, PubsubTopic


class PubSubTaskTopic(Construct):
    """A topic and one pull subscription on it; defaults are the seed program's names.

    A topic without a subscription drops what is published to it, so the two are made
    together.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic_name: str = "mlTrainingTopic",
        subscription_name: str = "mlTrainingSubscription",
    ) -> None:
        super().__init__(scope, id)
        where = limits.environment_of(self)
        limits.check(
            topic_name, limits.PUBSUB_NAME, field="PubSubTaskTopic.topic_name", where=where
        )
        limits.check(
            subscription_name,
            limits.PUBSUB_NAME,
            field="PubSubTaskTopic.subscription_name",
            where=where,
        )
        self._topic = PubsubTopic(self, "topic", name=topic_name)
        self._subscription = PubsubSubscription(
            self, "subscription", name=subscription_name, topic=self._topic.name
        )

    @property
    def topic_name(self) -> str:
        return self._topic.name

    @property
    def subscription_name(self) -> str:
        return self._subscription.name
