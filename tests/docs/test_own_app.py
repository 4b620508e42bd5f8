"""The README's own-app example: what it builds, and that the README shows it as it is.

Installed from a wheel into a fresh virtualenv and run there: tests/integration/
test_installed_package.py.
"""

from __future__ import annotations

import json
import re
import runpy
import tomllib
from pathlib import Path

from cdktf import Testing

from tests.docs.own_app_stack import EXAMPLE, STACK, check_seed_systems

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
SECTION = "## Use the constructs in your own app"


def _section() -> str:
    start = README.index(SECTION)
    end = README.find("\n## ", start + len(SECTION))
    return README[start : end if end != -1 else None]


def test_the_example_builds_the_three_seed_systems() -> None:
    example = runpy.run_path(str(EXAMPLE), run_name="own_app")
    stack = example["TrainingQueues"](Testing.app(), STACK)
    check_seed_systems(json.loads(Testing.synth(stack)))


def test_the_readme_shows_the_example_as_it_is() -> None:
    blocks = re.findall(r"```python\n(.*?)```", _section(), flags=re.DOTALL)
    assert blocks == [EXAMPLE.read_text(encoding="utf-8")]


def test_the_readme_installs_the_package_the_project_declares() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    section = _section()
    assert "pip install" in section
    assert f"`{project['name']}`" in section
