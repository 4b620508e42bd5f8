"""SQS in the backend registry: its wiring, task-holding types and build step; no jsii."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from constructs_lib.backend_spec import ApplyPace, Backend
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


# terraform-provider-aws 5.100.0 (internal/service/sqs/queue.go): after CreateQueue or
# SetQueueAttributes it waits for six reads in a row, at least 5 s apart, that show the
# attributes it wrote (issue #27393; AWS itself needs it), measured at 26 s a queue on moto;
# after DeleteQueue, for 15 reads 3 s apart that no longer find the queue.
QUEUE_WAITS = {"create": 26.0, "update": 26.0, "delete": 45.0}
# Amazon SQS quotas related to queues (SQSDeveloperGuide/quotas-queues.html): "Tagging actions
# are limited to 5 TPS per AWS account". Each queue change makes two of them (its tags on
# CreateQueue, ListQueueTags when the provider reads the queue back) over its 26 s wait, so
# 50 at once make 50 * 2 / 26 = 3.8 a second: under the quota, with room for the alarms'
# tag reads. CreateQueue, GetQueueAttributes and SetQueueAttributes have no published rate
# quota (standard queues: "nearly unlimited" API calls); 50 waiting queues poll
# GetQueueAttributes about 10 times a second. `make deploy PARALLELISM=N` overrides it.
PARALLELISM = 50

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
    pace=ApplyPace(waits={"aws_sqs_queue": QUEUE_WAITS}, parallelism=PARALLELISM),
)
