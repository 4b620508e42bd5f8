"""SQS in the backend registry: its wiring, task-holding types and build step; no jsii."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from constructs_lib.backend_spec import Backend
from constructs_lib.sqs.props import SqsTaskChannelProps
from constructs_lib.wiring import Wiring


@dataclass(frozen=True, kw_only=True)
class _Sqs(Wiring):
    BACKEND: ClassVar[str] = "sqs"
    ENV_PREFIX: ClassVar[str] = "SQS"
    region: str
    shared_queue_url: str | None


@dataclass(frozen=True, kw_only=True)
class SqsProducerWiring(_Sqs):
    worker_queue_urls: list[str]


@dataclass(frozen=True, kw_only=True)
class SqsWorkerWiring(_Sqs):
    queue_url: str


BACKEND = Backend(
    key="sqs",
    props=SqsTaskChannelProps,
    switch="`false` leaves out the AWS provider and every SQS resource",
    task_holding_types=frozenset({"aws_sqs_queue"}),
    producer_wiring=SqsProducerWiring,
    worker_wiring=SqsWorkerWiring,
    builder="constructs_lib.sqs.build:build",
    title="SQS",
    provider="aws",
    task_counter="constructs_lib.sqs.tasks:counter",
)
