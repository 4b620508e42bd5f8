"""Synthesizing stacks and apps for the tests, and reading what they produce."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from cdktf import TerraformStack, Testing


def synth(stack: TerraformStack) -> dict[str, Any]:
    """The stack's JSON without cdktf's `//` metadata, keys sorted."""
    result: dict[str, Any] = json.loads(Testing.synth(stack))
    return result


def resources(synthesized: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    """All resources of one type, ordered by their logical ids."""
    return list(synthesized.get("resource", {}).get(resource_type, {}).values())


def selected_by_tags(expression: str, tags_by_name: dict[str, dict[str, str]]) -> set[str]:
    """The names whose tags satisfy every `tag.KEY = 'VALUE'` of a Metrics Insights WHERE, as
    CloudWatch would select them (the emulator stores the query but never runs it)."""
    wanted = dict(re.findall(r"tag\.(\w+) = '([^']*)'", expression))
    assert wanted, expression
    return {
        name
        for name, tags in tags_by_name.items()
        if all(tags.get(key) == value for key, value in wanted.items())
    }


PROJECT_ROOT = Path(__file__).resolve().parent.parent
APP_FILES = ("main.py", "cdktf.json", "config", "stacks", "constructs_lib")


def copy_app(target: Path) -> Path:
    """A copy of what the app is made of, as a clone at another path would have it."""
    target.mkdir(parents=True)
    for name in APP_FILES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target / name)
    return target
