"""Reading what a stack synthesizes, for the construct and stack tests."""

from __future__ import annotations

import json
from typing import Any

from cdktf import TerraformStack, Testing


def synth(stack: TerraformStack) -> dict[str, Any]:
    """The stack's JSON without cdktf's `//` metadata, keys sorted."""
    result: dict[str, Any] = json.loads(Testing.synth(stack))
    return result


def resources(synthesized: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    """All resources of one type, ordered by their logical ids."""
    return list(synthesized.get("resource", {}).get(resource_type, {}).values())
