"""Plan a stack, show every change, and refuse to delete or replace what holds tasks.

Why: `prevent_destroy` only guards resources still in the configuration. Lowering `workers`,
switching a backend off or a ForceNew change (SQS `fifo`, a RabbitMQ queue's type, a Pub/Sub
filter) deletes queues with their tasks, and `cdktf deploy` applies it without a word. This
runs a real `terraform plan`, reads `terraform show -json`, prints one row per change, and
refuses any delete or replace of a task-holding resource unless the backend reports it
empty or the operator named it in the allow list. `--apply` then applies exactly the plan
it checked.

A saved plan holds the values of sensitive variables (the RabbitMQ passwords), so it is
written to a private temporary folder and deleted when the guard ends.

`--rotate-password producer|N` plans the replacement of that broker user's password
parameter, which generates a new password; the broker user takes it in the same apply.

    python -m tools.plan_guard cdktf.out/stacks/dev [--allow ADDRESS,...] [--apply]
        [--rotate-password producer|N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs_lib.backend_spec import TaskCounter
from constructs_lib.rabbitmq.props import parameter_address, rabbitmq_user_id
from constructs_lib.registry import backends, task_holding_types
from tools.apply_estimate import PARALLELISM_VARIABLE, ParallelismError, estimate, parallelism
from tools.moto_server import EMULATOR_CREDENTIALS
from tools.operator_input import OperatorError, check_credentials, synthesized

ALLOW_VARIABLE = "ALLOW_TASK_LOSS"
_ACTIONS = {
    ("create",): "create",
    ("update",): "update",
    ("delete",): "delete",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    # A `removed` block with `destroy = false`: out of state, left as it is in the cloud.
    ("forget",): "forget",
}


class GuardError(Exception):
    """Terraform or a backend could not be asked; the message says what failed."""


@dataclass(frozen=True)
class Change:
    """One resource change of a plan, as the guard judges it."""

    address: str
    type: str
    action: str
    replace_paths: tuple[str, ...]
    before: Mapping[str, Any]

    @property
    def loses_tasks(self) -> bool:
        """Deleting or replacing a task-holding resource drops whatever waits in it."""
        return self.type in task_holding_types() and self.action in ("delete", "replace")


def changes(plan: Mapping[str, Any]) -> list[Change]:
    """Every managed resource that the plan creates, updates, replaces or deletes."""
    result = []
    for item in plan.get("resource_changes", []):
        if item.get("mode") != "managed":
            continue
        action = _ACTIONS.get(tuple(item["change"]["actions"]))
        if action is None:  # no-op, read
            continue
        paths = item["change"].get("replace_paths") or []
        result.append(
            Change(
                address=item["address"],
                type=item["type"],
                action=action,
                replace_paths=tuple(".".join(map(str, path)) for path in paths),
                before=item["change"].get("before") or {},
            )
        )
    return result


def counters(stack: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, TaskCounter]:
    """A task counter per resource type prefix (`aws_`), from each registered backend that
    can count the tasks in this stack's resources with what the environment holds."""
    result: dict[str, TaskCounter] = {}
    for backend in backends():
        counter = backend.counter(stack, env)
        if counter is not None:
            result[f"{backend.provider}_"] = counter
    return result


def count_tasks(change: Change, by_prefix: Mapping[str, TaskCounter]) -> int | None:
    """None: unknown (no API here, or it did not answer), which the guard treats as not empty."""
    for prefix, counter in by_prefix.items():
        if change.type.startswith(prefix):
            try:
                return counter(change.type, change.before)
            # Any failure (unreachable API, botocore's many errors, a missing queue) means
            # the count is unknown, which refuses the change: never a guess of 0.
            except Exception as error:
                print(f"warning: could not count the tasks in {change.address}: {error}")
                return None
    return None


@dataclass(frozen=True)
class Verdict:
    rows: list[str]
    refused: list[str]


def judge(
    planned: Iterable[Change], count: Callable[[Change], int | None], allowed: Iterable[str]
) -> Verdict:
    """One table row per change; refused: what would lose tasks without anyone agreeing."""
    allowed = set(allowed)
    rows = ["| address | action | forced by | tasks waiting |", "| --- | --- | --- | --- |"]
    refused = []
    for change in planned:
        tasks = ""
        if change.type in task_holding_types() and change.action != "create":
            waiting = count(change) if change.loses_tasks else None
            tasks = "unknown" if waiting is None else str(waiting)
            if change.action == "update":
                tasks = "kept (updated in place)"
            elif change.address in allowed:
                tasks += f" (allowed by {ALLOW_VARIABLE})"
            elif waiting != 0:
                refused.append(f"{change.address} ({change.action}, tasks waiting: {tasks})")
        forced = ", ".join(change.replace_paths)
        rows.append(f"| {change.address} | {change.action} | {forced} | {tasks} |")
    return Verdict(rows, refused)


def credentials(stack: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """The environment to plan in: a stack whose AWS provider points at an emulator (the
    `local` one, at moto) gets moto's test credentials, unless the caller set their own;
    they are passed to Terraform and the task counter, never written anywhere."""
    emulated = any(block.get("endpoints") for block in stack.get("provider", {}).get("aws", []))
    own = any(name in env for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE"))
    return {**env, **EMULATOR_CREDENTIALS} if emulated and not own else dict(env)


def unknown_allowed(planned: Iterable[Change], allowed: Iterable[str]) -> list[str]:
    """Addresses in the allow list that this plan does not change: a typo there would
    otherwise be silence, and the operator believes a loss was agreed that is not planned."""
    addresses = {change.address for change in planned}
    return [address for address in allowed if address not in addresses]


def _terraform(stack_dir: Path, *arguments: str, env: Mapping[str, str]) -> str:
    result = subprocess.run(
        ["terraform", *arguments],
        cwd=stack_dir,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        stdin=subprocess.DEVNULL,
        env=dict(env),
    )
    if result.returncode != 0:
        raise GuardError(
            f"terraform {arguments[0]} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result.stdout


def _allowed(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def rotation(stack: Mapping[str, Any], environment: str, who: str) -> str:
    """The `-replace` address that rotates the password of `who` (`producer` or a worker's
    number), if the stack keeps that password in SSM."""
    worker = None if who == "producer" else int(who) if who.isdigit() else -1
    address = parameter_address(rabbitmq_user_id(worker))
    parameters = stack.get("resource", {}).get("aws_ssm_parameter", {})
    if address.split(".", 1)[1] in parameters:
        return address
    workers = sum(1 for name in parameters if name.startswith("rabbitmq_worker_"))
    kept = (
        f"keeps the producer's and workers 1 to {workers}'s passwords in SSM"
        if workers
        else "keeps no RabbitMQ password in SSM (password_store = 'ssm' does)"
    )
    raise GuardError(
        f"WORKER = {who!r} names no password to rotate: stack {environment} {kept};"
        " expected WORKER=producer or WORKER=<n>"
    )


def guard(
    stack_dir: Path,
    *,
    allowed: list[str],
    apply: bool,
    rotate: str | None = None,
    parallel: str | None = None,
) -> int:
    """`parallel`: the operator's PARALLELISM, if any (unset: the backends' quotas decide)."""
    stack = synthesized(stack_dir)
    replace = [] if rotate is None else [f"-replace={rotation(stack, stack_dir.name, rotate)}"]
    at_once = parallelism(stack, parallel)
    env = credentials(stack, os.environ)
    check_credentials(stack, env, stack_dir.name)
    _terraform(stack_dir, "init", "-input=false", "-no-color", env=env)
    with tempfile.TemporaryDirectory(prefix="ml-queues-plan-") as private:
        plan_file = str(Path(private) / "plan.tfplan")
        _terraform(
            stack_dir,
            "plan",
            "-input=false",
            "-no-color",
            f"-parallelism={at_once}",
            *replace,
            f"-out={plan_file}",
            env=env,
        )
        plan = json.loads(_terraform(stack_dir, "show", "-json", plan_file, env=env))
        planned = changes(plan)
        by_prefix = counters(stack, env)
        verdict = judge(planned, lambda change: count_tasks(change, by_prefix), allowed)
        print(f"{len(planned)} changes to stack {stack_dir.name}:")
        print("\n".join(verdict.rows))
        unknown = unknown_allowed(planned, allowed)
        if unknown:
            print(
                f"error: {ALLOW_VARIABLE} names {', '.join(unknown)}, which this plan does not"
                " change; name addresses from the table above, or leave it unset",
                file=sys.stderr,
            )
            return 2
        if verdict.refused:
            print(
                f"refused: this plan deletes or replaces {len(verdict.refused)} resource(s)"
                " holding tasks, or whose tasks could not be counted:\n  "
                + "\n  ".join(verdict.refused)
                + "\nDrain them first (workers take every task, the counts reach 0), or, to"
                " lose what waits there on purpose, name them:"
                f" {ALLOW_VARIABLE}=<address>,<address> make deploy ENV={stack_dir.name}",
                file=sys.stderr,
            )
            return 4
        expected = estimate(plan, at_once)
        print(expected.line())
        if apply:
            started = time.monotonic()
            print(
                _terraform(
                    stack_dir,
                    "apply",
                    "-input=false",
                    "-no-color",
                    f"-parallelism={at_once}",
                    plan_file,
                    env=env,
                )
            )
            # Beside the estimate, so that an operator sees when the waits have changed.
            print(
                f"applied in {time.monotonic() - started:.0f} s"
                f" (estimated {expected.seconds:.0f} s)"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack_dir", type=Path, help="cdktf.out/stacks/<env>")
    parser.add_argument(
        "--allow",
        default=os.environ.get(ALLOW_VARIABLE),
        help=f"addresses whose tasks may be lost, comma-separated (default: ${ALLOW_VARIABLE})",
    )
    parser.add_argument("--apply", action="store_true", help="apply the plan it checked")
    parser.add_argument(
        "--rotate-password",
        metavar="producer|N",
        help="replace that broker user's password parameter: a new password, which the user"
        " takes in the same apply",
    )
    parser.add_argument(
        "--parallelism",
        default=os.environ.get(PARALLELISM_VARIABLE),
        help="changes Terraform runs at once (default: $PARALLELISM, else the backends' quotas)",
    )
    args = parser.parse_args(argv)
    try:
        return guard(
            args.stack_dir,
            allowed=_allowed(args.allow),
            apply=args.apply,
            rotate=args.rotate_password,
            parallel=args.parallelism,
        )
    except (GuardError, OperatorError, ParallelismError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
