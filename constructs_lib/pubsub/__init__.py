"""Pub/Sub task channels: `PubSubTaskTopic`, a topic and subscription per worker and a
shared pair (with `workers = 0`, just one topic and its subscription), with its props.

The props import without jsii; the construct loads cdktf when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from constructs_lib.pubsub.props import PubSubTaskTopicProps

if TYPE_CHECKING:
    from constructs_lib.pubsub.topic import PubSubTaskTopic

__all__ = ["PubSubTaskTopic", "PubSubTaskTopicProps"]

_CONSTRUCTS = {"PubSubTaskTopic": "constructs_lib.pubsub.topic"}


def __getattr__(name: str) -> Any:
    """A construct, imported on first use (PEP 562), so that the props need no jsii."""
    if name in _CONSTRUCTS:
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module(_CONSTRUCTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
