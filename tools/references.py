"""References between resources in a synthesized stack (`${aws_sqs_queue.x.arn}`), read from
the JSON itself: no Terraform, no jsii.

Why one reader: the diagram, the Pub/Sub emulator load and the RabbitMQ definitions each
follow references from one resource to another in `cdk.tf.json`, and each used to parse them
with a pattern of its own, which did not agree on what a logical id may hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# Terraform's named values that are not resources: `data.type.id.attribute` names a data
# source, `var.x` a variable, and so on.
_NOT_RESOURCES = "data|ephemeral|var|local|module|each|count|path|self|terraform"
# `type.id.attribute`; a logical id holds what cdktf keeps of a construct path (letters,
# digits, `_` and `-`).
_REFERENCE = rf"(?!(?:{_NOT_RESOURCES})\.)([a-z][a-z0-9_]*)\.([\w-]+)\.(\w+)"
_WHOLE = re.compile(rf"\$\{{{_REFERENCE}\}}")
# Inside an expression, not in the middle of a longer name such as `data.type.id.attribute`.
_WITHIN = re.compile(rf"(?<![\w.-]){_REFERENCE}")


@dataclass(frozen=True)
class Reference:
    """One attribute of one resource of the stack."""

    type: str
    id: str
    attribute: str

    @property
    def address(self) -> str:
        """`type.id`, as Terraform and the stack's JSON name the resource."""
        return f"{self.type}.{self.id}"


def whole(value: str) -> Reference | None:
    """The attribute `value` is when it is `${type.id.attribute}` and nothing else; None for
    plain text and for any other expression."""
    match = _WHOLE.fullmatch(value)
    return Reference(*match.groups()) if match is not None else None


def within(expression: str) -> Iterator[Reference]:
    """Every resource attribute an expression names, in order, wherever it stands: in
    `${jsonencode({"Resource" = [aws_sqs_queue.a.arn, ...]})}` as in `${aws_sqs_queue.a.url}`."""
    for match in _WITHIN.finditer(expression):
        yield Reference(*match.groups())
