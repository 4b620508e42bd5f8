"""What an operator types around the stacks (ENV, WORKER), checked before anything runs.

Why: the config loader answers a bad config in one line, and the commands around it must
too. `make plan ENV=dve` used to end in a Python traceback (FileNotFoundError) from the
guard; every command behind a Makefile target now reads its stack through `synthesized`,
and an unknown environment or worker is one line that says what there is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class OperatorError(Exception):
    """A bad input to an operator command: one line that says what to do (exit code 2)."""


def synthesized(stack_dir: Path) -> dict[str, Any]:
    """The synthesized stack in `stack_dir` (`cdktf.out/stacks/<env>`)."""
    stack_file = stack_dir / "cdk.tf.json"
    if stack_file.is_file():
        stack: dict[str, Any] = json.loads(stack_file.read_text(encoding="utf-8"))
        return stack
    stacks = stack_dir.parent
    known = sorted(p.name for p in stacks.glob("*") if (p / "cdk.tf.json").is_file())
    if not known:
        raise OperatorError(f"{stacks} holds no synthesized stack; run `make synth` first")
    raise OperatorError(
        f"ENV = {stack_dir.name!r} names no environment; expected one of {', '.join(known)}"
    )


def worker_number(stack: Mapping[str, Any], environment: str, worker: str) -> int | None:
    """WORKER as typed: None for `producer`, else a worker of `environment` (the stack's
    `worker_<n>` outputs say how many it has)."""
    if worker == "producer":
        return None
    count = sum(1 for name in stack.get("output", {}) if re.fullmatch(r"worker_\d+", name))
    if worker.isdigit() and 1 <= int(worker) <= count:
        return int(worker)
    raise OperatorError(
        f"WORKER = {worker!r} is not a worker of {environment}; expected producer or a"
        f" number from 1 to {count}"
    )
