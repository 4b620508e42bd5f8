"""RabbitMQ task channels: `RabbitMqTaskExchange`, a direct exchange with a durable queue per
worker bound by its own name (with its own vhost, or a `Vhost` passed in), the provider and
the typed bindings it is built from, and the broker users' passwords.

The props import without jsii; the constructs load cdktf when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from constructs_lib.rabbitmq.props import RabbitMqPasswordsProps, RabbitMqTaskExchangeProps

if TYPE_CHECKING:
    from constructs_lib.rabbitmq.bindings import RabbitmqProvider, User, Vhost
    from constructs_lib.rabbitmq.exchange import RabbitMqTaskExchange
    from constructs_lib.rabbitmq.passwords import RabbitMqPasswords

__all__ = [
    "RabbitMqPasswords",
    "RabbitMqPasswordsProps",
    "RabbitMqTaskExchange",
    "RabbitMqTaskExchangeProps",
    "RabbitmqProvider",
    "User",
    "Vhost",
]

_CONSTRUCTS = {
    "RabbitMqTaskExchange": "constructs_lib.rabbitmq.exchange",
    "RabbitMqPasswords": "constructs_lib.rabbitmq.passwords",
    "RabbitmqProvider": "constructs_lib.rabbitmq.bindings",
    "User": "constructs_lib.rabbitmq.bindings",
    "Vhost": "constructs_lib.rabbitmq.bindings",
}


def __getattr__(name: str) -> Any:
    """A construct, imported on first use (PEP 562), so that the props need no jsii."""
    if name in _CONSTRUCTS:
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module(_CONSTRUCTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
