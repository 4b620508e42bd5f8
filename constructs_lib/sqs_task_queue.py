"""An SQS queue that holds training tasks until a worker takes them, with a dead-letter queue."""

from __future__ import annotations

from cdktf import Fn
from constructs import Construct

from constructs_lib import limits
from constructs_lib.providers import SqsQueue, SqsQueueRedriveAllowPolicy, SqsQueueRedrivePolicy


class SqsTaskQueue(Construct):
    """One SQS task queue; queue defaults are the seed program's values.

    `visibility_timeout_seconds` must cover a whole training step, or the task reappears
    for another worker while the first is still on it; workers with longer steps extend it
    with ChangeMessageVisibility.

    A task that fails `max_receive_count` times moves to the dead-letter queue instead of
    cycling forever (on by default). The DLQ keeps tasks longer than the source, because a
    moved message keeps its original enqueue time. Redrive and redrive-allow are separate
    resources, so the two queues are created in one apply without a dependency cycle, and
    the DLQ accepts tasks only from its own source queue (`dead_letter_sources_only`; turn it
    off only where the API lacks redrive-allow policies, as some emulators do).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str = "mlTrainingQueue",
        delay_seconds: int = 90,
        max_message_size: int = 262_144,
        message_retention_seconds: int = 86_400,
        receive_wait_time_seconds: int = 10,
        visibility_timeout_seconds: int = 30,
        dead_letter_queue: bool = True,
        max_receive_count: int = 5,
        dead_letter_retention_seconds: int = 1_209_600,
        dead_letter_sources_only: bool = True,
    ) -> None:
        super().__init__(scope, id)
        where = limits.environment_of(self)
        for field, value, rule in (
            ("name", name, limits.SQS_QUEUE_NAME),
            ("delay_seconds", delay_seconds, limits.SQS_DELAY_SECONDS),
            ("max_message_size", max_message_size, limits.SQS_MAX_MESSAGE_SIZE),
            (
                "message_retention_seconds",
                message_retention_seconds,
                limits.SQS_MESSAGE_RETENTION_SECONDS,
            ),
            (
                "receive_wait_time_seconds",
                receive_wait_time_seconds,
                limits.SQS_RECEIVE_WAIT_TIME_SECONDS,
            ),
            (
                "visibility_timeout_seconds",
                visibility_timeout_seconds,
                limits.SQS_VISIBILITY_TIMEOUT_SECONDS,
            ),
        ):
            limits.check(value, rule, field=f"SqsTaskQueue.{field}", where=where)

        self._queue = SqsQueue(
            self,
            "queue",
            name=name,
            delay_seconds=delay_seconds,
            max_message_size=max_message_size,
            message_retention_seconds=message_retention_seconds,
            receive_wait_time_seconds=receive_wait_time_seconds,
            visibility_timeout_seconds=visibility_timeout_seconds,
        )
        self._dead_letter_queue: SqsQueue | None = None
        if not dead_letter_queue:
            return

        dlq_name = f"{name}-dlq"
        limits.check(dlq_name, limits.SQS_QUEUE_NAME, field="SqsTaskQueue DLQ name", where=where)
        limits.check(
            max_receive_count,
            limits.SQS_MAX_RECEIVE_COUNT,
            field="SqsTaskQueue.max_receive_count",
            where=where,
        )
        limits.check(
            dead_letter_retention_seconds,
            limits.IntRange(message_retention_seconds, limits.SQS_MESSAGE_RETENTION_SECONDS.high),
            field="SqsTaskQueue.dead_letter_retention_seconds (at least the queue's retention)",
            where=where,
        )
        self._dead_letter_queue = SqsQueue(
            self,
            "dead_letter_queue",
            name=dlq_name,
            max_message_size=max_message_size,
            message_retention_seconds=dead_letter_retention_seconds,
            receive_wait_time_seconds=receive_wait_time_seconds,
            visibility_timeout_seconds=visibility_timeout_seconds,
        )
        SqsQueueRedrivePolicy(
            self,
            "redrive_policy",
            queue_url=self._queue.url,
            redrive_policy=Fn.jsonencode(
                {
                    "deadLetterTargetArn": self._dead_letter_queue.arn,
                    "maxReceiveCount": max_receive_count,
                }
            ),
        )
        if not dead_letter_sources_only:
            return
        SqsQueueRedriveAllowPolicy(
            self,
            "redrive_allow_policy",
            queue_url=self._dead_letter_queue.url,
            redrive_allow_policy=Fn.jsonencode(
                {"redrivePermission": "byQueue", "sourceQueueArns": [self._queue.arn]}
            ),
        )

    @property
    def queue_url(self) -> str:
        """What producers and workers pass to the SQS API."""
        return self._queue.url

    @property
    def queue_arn(self) -> str:
        return self._queue.arn

    @property
    def queue_name(self) -> str:
        return self._queue.name

    @property
    def dead_letter_queue_url(self) -> str | None:
        """None when the construct was built without a dead-letter queue."""
        return self._dead_letter_queue.url if self._dead_letter_queue else None

    @property
    def dead_letter_queue_arn(self) -> str | None:
        return self._dead_letter_queue.arn if self._dead_letter_queue else None
