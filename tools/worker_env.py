"""Print what one worker (or the producer) needs as KEY=value lines for a .env file.

Why: the stacks output, per worker, one structured value with its queue URL, subscription
path, vhost, exchange and queue; copying those by hand is how workers end up reading another
worker's queue. The variable names come from the typed wiring classes
(constructs_lib/wiring.py), which the docs examples are held to. This reads the deployed
outputs (the state, not the synthesized JSON, so it shows real URLs) and says clearly when
the stack has not been deployed. Passwords are never printed: with RabbitMQ passwords in SSM,
AMQP_PASSWORD_PARAMETER names the parameter the worker's own role may read; otherwise they
live in your secret store.

    python -m tools.worker_env cdktf.out/stacks/dev 2
    python -m tools.worker_env cdktf.out/stacks/dev producer
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from constructs_lib.registry import env_lines
from tools.operator_input import OperatorError, check_credentials, synthesized, worker_number


class NotDeployedError(Exception):
    """The stack has no outputs yet; the message says what to run."""


def _local_state_outputs(stack_dir: Path, path: str) -> dict[str, Any]:
    state_file = (stack_dir / path).resolve()
    if not state_file.is_file():
        raise NotDeployedError(f"no state at {state_file}")
    outputs: dict[str, Any] = json.loads(state_file.read_text(encoding="utf-8"))["outputs"]
    return outputs


def _terraform(stack_dir: Path, *arguments: str, timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["terraform", *arguments, "-no-color"],
        cwd=stack_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _terraform_outputs(stack_dir: Path) -> dict[str, Any]:
    """Remote state: Terraform reads it, after `init` if this checkout never ran one."""
    result = _terraform(stack_dir, "output", "-json", timeout=300)
    if result.returncode != 0 and "terraform init" in result.stderr:
        init = _terraform(stack_dir, "init", "-input=false", timeout=600)
        if init.returncode != 0:
            raise NotDeployedError(f"terraform init failed: {init.stderr.strip()[-1000:]}")
        result = _terraform(stack_dir, "output", "-json", timeout=300)
    if result.returncode != 0:
        raise NotDeployedError(f"terraform output failed: {result.stderr.strip()[-1000:]}")
    outputs: dict[str, Any] = json.loads(result.stdout)
    return outputs


def deployed_outputs(stack_dir: Path, stack: dict[str, Any]) -> dict[str, Any]:
    backend = stack["terraform"]["backend"]
    if "local" in backend:
        return _local_state_outputs(stack_dir, backend["local"]["path"])
    return _terraform_outputs(stack_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack_dir", type=Path, help="cdktf.out/stacks/<env>")
    parser.add_argument("worker", help="`producer`, or the worker's number, from 1")
    args = parser.parse_args(argv)
    env = args.stack_dir.name
    try:
        stack = synthesized(args.stack_dir)
        worker = worker_number(stack, env, args.worker)
        # State in S3 or Cloud Storage is read with that cloud's credentials.
        check_credentials(stack, os.environ, env, state_only=True)
    except OperatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    producer = worker is None
    name = "producer" if producer else f"worker_{worker}"
    try:
        outputs = deployed_outputs(args.stack_dir, stack)
    except NotDeployedError as error:
        print(
            f"error: stack {env} is not deployed ({error}); deploy it first:"
            f" `make deploy ENV={env}`",
            file=sys.stderr,
        )
        return 3
    if not outputs:
        print(f"error: stack {env} is not deployed (its state has no outputs)", file=sys.stderr)
        return 3
    if name not in outputs:
        workers = sorted(key for key in outputs if key.startswith("worker_"))
        print(f"error: {env} has no {name}; it has {', '.join(workers)}", file=sys.stderr)
        return 2
    print(
        f"# {name.replace('_', ' ')} of {env}; passwords are not here: read the SSM parameter"
        " AMQP_PASSWORD_PARAMETER names, if any, or use your secret store"
    )
    try:
        lines = env_lines(outputs[name]["value"], producer=producer)
    except KeyError as error:
        print(f"error: {env}'s {name} output: {error.args[0]}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
