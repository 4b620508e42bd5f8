"""An SQS queue that holds training tasks until a worker takes them."""

from __future__ import annotations

from constructs import Construct

from constructs_lib import limits
from constructs_lib.providers import SqsQueue


class SqsTaskQueue(Construct):
    """One SQS queue; defaults are the seed program's values.

    `visibility_timeout_seconds` must cover a whole training step, or the task reappears
    for another worker while the first is still on it; workers with longer steps extend it
    with ChangeMessageVisibility.
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

    @property
    def queue_url(self) -> str:
        """What producers and workers pass to the SQS API (the resource's `id` is its URL)."""
        return self._queue.url

    @property
    def queue_arn(self) -> str:
        return self._queue.arn

    @property
    def queue_name(self) -> str:
        return self._queue.name
