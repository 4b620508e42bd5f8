"""The docs' lists held to the code: the stacks' outputs (docs/operations.md), the tools and
the library's modules (docs/layout.md), the make targets.

Why: each list was once written by hand and then fell behind (two outputs a Pub/Sub and a
RabbitMQ producer need were missing, and the Layout named a third of `tools/`).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
OPERATIONS = (PROJECT_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
LAYOUT = (PROJECT_ROOT / "docs" / "layout.md").read_text(encoding="utf-8")


def _paragraph(text: str, starting: str) -> str:
    start = text.index(starting)
    return text[start : text.index("\n\n", start)]


def test_the_listed_outputs_are_the_outputs_the_stacks_have(
    stack_json: dict[str, dict[str, Any]],
) -> None:
    """Across every environment; `worker_<n>` stands for `worker_1` to `worker_N`."""
    have = {
        re.sub(r"^worker_\d+$", "worker_<n>", name)
        for stack in stack_json.values()
        for name in stack.get("output", {})
    }
    listed = set(re.findall(r"`([a-z_<>]+)`", _paragraph(OPERATIONS, "Each stack exports:")))
    assert listed == have


def test_the_layout_names_every_tool() -> None:
    tools = {
        path.name
        for path in (PROJECT_ROOT / "tools").iterdir()
        if path.is_file() and path.name != "__init__.py"
    }
    listed = set(re.findall(r"^\| `tools/([\w.-]+)` \|", LAYOUT, flags=re.MULTILINE))
    assert listed == tools


def test_the_layout_names_every_module_and_package_of_the_library() -> None:
    """A backend package is one row; every module beside them is a row of its own."""
    library = PROJECT_ROOT / "constructs_lib"
    have = {
        f"{path.name}/" if path.is_dir() else path.name
        for path in library.iterdir()
        if path.name != "__pycache__" and (path.is_dir() or path.suffix == ".py")
    }
    listed = set(re.findall(r"^\| `constructs_lib/([\w./-]+)` \|", LAYOUT, flags=re.MULTILINE))
    assert listed == have


def test_make_help_lists_every_target_a_person_runs_one_line_each() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    phony = set(" ".join(re.findall(r"^\.PHONY:((?:.*\\\n)*.*)", makefile, re.M)).split())
    # FORCE and check-env are prerequisites of other targets, not commands.
    phony -= {"\\", "FORCE", "check-env"}
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = [line.split(maxsplit=1) for line in result.stdout.splitlines()]
    assert all(len(row) == 2 for row in rows), rows
    assert sorted(target for target, _ in rows) == sorted(phony)
