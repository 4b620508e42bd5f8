"""Shared fixtures: the whole app is synthesized once per test session.

Synthesizing loads the provider packages, the slowest step by far; every test that needs
the app's JSON reads it from this one synth instead of paying for its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# Before cdktf starts its node process: jsii runs on the Node LTS that `make install` brings
# (package-lock.json), as it does under make; without it, on the machine's own Node.
from stacks.node_runtime import use_project_node

use_project_node()

from cdktf import TerraformStack, Testing  # noqa: E402

from stacks.app import build_app  # noqa: E402
from tools.operator_input import whole_environment  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app as `cdktf synth` writes it, from the project's own config folder."""
    outdir = tmp_path_factory.mktemp("cdktf.out")
    build_app(CONFIG_DIR, outdir=str(outdir)).synth()
    return outdir


@pytest.fixture(scope="session")
def stack_json(synth_dir: Path) -> dict[str, dict[str, Any]]:
    """Each environment's `cdk.tf.json`, parsed, by environment name."""
    return {
        path.parent.name: json.loads(path.read_text())
        for path in sorted((synth_dir / "stacks").glob("*/cdk.tf.json"))
    }


@pytest.fixture(scope="session")
def environment_json(synth_dir: Path) -> dict[str, dict[str, Any]]:
    """Each environment whole, by name: its stack with its emulated part merged in."""
    return {path.name: whole_environment(path) for path in sorted((synth_dir / "stacks").iterdir())}


@pytest.fixture
def stack() -> TerraformStack:
    """An empty stack named like an environment, for building one construct in it."""
    return TerraformStack(Testing.app(), "test")
