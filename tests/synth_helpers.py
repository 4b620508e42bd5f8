"""Synthesizing stacks and apps for the tests, and reading what they produce.

An environment with a change is built as a user would make it, by writing the change into
its config file: `environment("dev", workers=40)` is config/dev.toml with `workers = 40`,
read by the loader with every rule checked, and `synth_environment` is its stack's JSON.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

from cdktf import TerraformStack, Testing

from stacks.ml_queues_stack import MlQueuesStack
from stacks.settings import EnvironmentSettings, parse_environment


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
CONFIG_DIR = PROJECT_ROOT / "config"
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


def config(env: str, **changes: Any) -> dict[str, Any]:
    """config/<env>.toml as parsed TOML with `changes` written in: a table's keys are set
    one by one (None leaves a key out, as if it were not written), any other key replaced."""
    data: dict[str, Any] = tomllib.loads((CONFIG_DIR / f"{env}.toml").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if isinstance(value, dict):
            table = {**data.get(key, {}), **value}
            data[key] = {name: item for name, item in table.items() if item is not None}
        else:
            data[key] = value
    return data


def environment(env: str, **changes: Any) -> EnvironmentSettings:
    """`env`'s settings as the loader reads its config file with `changes` (see `config`)."""
    return parse_environment(env, config(env, **changes), source=f"config/{env}.toml")


def synth_settings(settings: EnvironmentSettings) -> dict[str, Any]:
    """The JSON of the stack the app builds from `settings`, in an app of its own."""
    return synth(MlQueuesStack(Testing.app(), settings))


def synth_environment(env: str, **changes: Any) -> dict[str, Any]:
    """The JSON of `env`'s stack with `changes` in its config file (see `config`)."""
    return synth_settings(environment(env, **changes))
