"""SQS task channels: `SqsTaskChannel` (a queue per worker and a shared one) and
`SqsTaskQueue` (one queue with its dead-letter queue), with their props.

The props import without jsii; the constructs load cdktf when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from constructs_lib.sqs.props import SqsTaskChannelProps, SqsTaskQueueProps

if TYPE_CHECKING:
    from constructs_lib.sqs.channel import SqsTaskChannel
    from constructs_lib.sqs.queue import SqsTaskQueue

__all__ = ["SqsTaskChannel", "SqsTaskChannelProps", "SqsTaskQueue", "SqsTaskQueueProps"]

_CONSTRUCTS = {
    "SqsTaskChannel": "constructs_lib.sqs.channel",
    "SqsTaskQueue": "constructs_lib.sqs.queue",
}


def __getattr__(name: str) -> Any:
    """A construct, imported on first use (PEP 562), so that the props need no jsii."""
    if name in _CONSTRUCTS:
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module(_CONSTRUCTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
