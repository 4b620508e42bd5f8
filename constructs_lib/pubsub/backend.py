"""Pub/Sub in the backend registry: its wiring, task-holding types and build step; no jsii."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from constructs_lib.backend_spec import Backend
from constructs_lib.pubsub.props import PubSubTaskTopicProps
from constructs_lib.wiring import Wiring


@dataclass(frozen=True, kw_only=True)
class _PubSub(Wiring):
    BACKEND: ClassVar[str] = "pubsub"
    ENV_PREFIX: ClassVar[str] = "PUBSUB"


@dataclass(frozen=True, kw_only=True)
class PubSubProducerWiring(_PubSub):
    topic: str | None
    worker_topics: list[str]


@dataclass(frozen=True, kw_only=True)
class PubSubWorkerWiring(_PubSub):
    subscription: str
    shared_subscription: str | None


BACKEND = Backend(
    key="pubsub",
    props=PubSubTaskTopicProps,
    switch="`false` leaves out the Google provider and every Pub/Sub resource",
    task_holding_types=frozenset({"google_pubsub_topic", "google_pubsub_subscription"}),
    producer_wiring=PubSubProducerWiring,
    worker_wiring=PubSubWorkerWiring,
    builder="constructs_lib.pubsub.build:build",
    title="Pub/Sub",
    provider="google",
    emulator="Google's Pub/Sub emulator (its loader: `make pubsub-emulator`)",
)
