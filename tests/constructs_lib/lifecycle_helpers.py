"""Reading `replace_triggered_by` back from a synthesized stack.

Logical ids are hashed, so a test follows a reference to the resource it reaches instead of
comparing its text; and it checks the form, because Terraform refuses an interpolated
`${...}` in `replace_triggered_by` and takes only a bare `<type>.<logical id>.id` (the id,
not the resource, so that an update in place does not replace the dependent).
"""

from __future__ import annotations

import re
from typing import Any

_BARE = re.compile(r"(?P<type>\w+)\.(?P<id>\w+)\.id")
_INTERPOLATED = re.compile(r"\$\{(?P<type>\w+)\.(?P<id>\w+)\.\w+\}")


def triggers(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(type, logical id) of each resource whose replacement replaces `body`, in order.

    Fails unless `body`'s lifecycle holds `replace_triggered_by` alone, every entry bare."""
    lifecycle = body["lifecycle"]
    assert set(lifecycle) == {"replace_triggered_by"}, lifecycle
    found = []
    for reference in lifecycle["replace_triggered_by"]:
        match = _BARE.fullmatch(reference)
        assert match is not None and "${" not in reference, f"not bare: {reference!r}"
        found.append((match["type"], match["id"]))
    return found


def target(reference: str) -> tuple[str, str]:
    """(type, logical id) of the resource an argument such as `${type.id.name}` reads."""
    match = _INTERPOLATED.fullmatch(reference)
    assert match is not None, reference
    return match["type"], match["id"]


def name_of(synthesized: dict[str, Any], address: tuple[str, str]) -> str:
    """The `name` of the resource at (type, logical id); it must exist in the stack."""
    resource_type, logical_id = address
    name: str = synthesized["resource"][resource_type][logical_id]["name"]
    return name
