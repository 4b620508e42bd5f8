"""The address ledger: every resource address each environment has released, kept for good.

Why: Terraform keys state by resource address (`aws_sqs_queue.sqs_task_queue_A78A7F3E`),
which cdktf derives from the construct path. A refactor that changes a path changes the
address, and Terraform then destroys the resource, with the tasks in it, and creates an
empty one, unless a `moved` block carries the old address to the new one. The snapshots
show such a change only to a reviewer who spots it; the ledger makes `make test` refuse it.

One file per environment, `tests/ledger/<env>.txt`: one address a line, sorted, `#` lines are
comments. An address whose resource was deleted on purpose keeps its line, marked
`<address> retired: <why no task is lost>`. Only managed resources are listed: a data source
holds nothing (Terraform reads it again at every plan), Terraform refuses a `moved` block for
one, and renaming it loses nothing; ephemeral resources are never in state at all.

`python -m tools.address_ledger cdktf.out/stacks tests/ledger` (`make ledger-update`) adds the
addresses the synthesized stacks have and their ledgers lack. It never removes a line or a
mark: dropping an address is a decision the check (`tests/stacks/test_address_ledger.py`)
asks a person to make.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UPDATE_COMMAND = "make ledger-update"
RETIRED = "retired:"
# A managed resource's address as cdktf writes it: `<type>.<logical id>`. Terraform allows
# letters, digits, underscores and hyphens in a name; types are lowercase.
_ADDRESS = re.compile(r"[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_-]*")
# A `moved` block's `to` may name one instance of a resource with count or for_each.
_INSTANCE_KEY = re.compile(r"\[[^\]]*\]$")


def _header(environment: str) -> str:
    return (
        f"# Every resource address environment {environment} has released: Terraform's state"
        " is keyed by them.\n"
        f"# `{UPDATE_COMMAND}` adds new ones. Never delete a line: a resource deleted on"
        " purpose keeps its\n"
        "# line as `<address> retired: <why no task is lost>`. See docs/operations.md.\n"
    )


class LedgerError(ValueError):
    """A ledger file that cannot be read as one: one line naming the file and line."""


@dataclass(frozen=True)
class Entry:
    """One released address; `retired` says why deleting it lost no task, if it was."""

    address: str
    retired: str | None = None


def managed_addresses(stack: Mapping[str, Any]) -> set[str]:
    """`<type>.<logical id>` of every managed resource in a synthesized stack."""
    return {
        f"{resource_type}.{logical_id}"
        for resource_type, resources in stack.get("resource", {}).items()
        for logical_id in resources
    }


def moves(stack: Mapping[str, Any]) -> dict[str, str]:
    """The stack's `moved` blocks as cdktf writes them (`move_to`, `move_to_id`,
    `move_from_id`): from-address -> to-address, an instance key dropped from `to`."""
    return {block["from"]: _INSTANCE_KEY.sub("", block["to"]) for block in stack.get("moved", [])}


def forgotten(stack: Mapping[str, Any]) -> set[str]:
    """The addresses the stack's `removed` blocks take out of state without destroying."""
    return {block["from"] for block in stack.get("removed", [])}


def parse(text: str, source: str) -> dict[str, Entry]:
    """The entries of a ledger file, by address; `source` names it in errors."""
    entries: dict[str, Entry] = {}
    previous = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        address, _, rest = line.partition(" ")
        where = f"{source} line {number}"
        if not _ADDRESS.fullmatch(address):
            raise LedgerError(f"{where}: {address!r} is not a resource address `<type>.<name>`")
        retired: str | None = None
        if rest:
            reason = rest.strip()
            if not reason.startswith(RETIRED) or not reason[len(RETIRED) :].strip():
                raise LedgerError(
                    f"{where}: expected `{address}` alone or `{address} {RETIRED} <reason>`,"
                    f" got {line!r}"
                )
            retired = reason[len(RETIRED) :].strip()
        if address in entries:
            raise LedgerError(f"{where}: {address} is listed twice")
        if address < previous:
            raise LedgerError(f"{where}: {address} is out of order; the lines are sorted")
        previous = address
        entries[address] = Entry(address, retired)
    return entries


def with_added(text: str, added: list[str]) -> str:
    """`text` with each of `added` (sorted) on a line of its own where the order puts it;
    every line already there, comments included, stays as it is."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    result: list[str] = []
    pending = list(added)
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            address = stripped.split(" ", 1)[0]
            while pending and pending[0] < address:
                result.append(pending.pop(0) + "\n")
        result.append(line)
    result.extend(f"{address}\n" for address in pending)
    return "".join(result)


def read(path: Path) -> dict[str, Entry]:
    """A ledger file's entries; a missing file is an empty ledger."""
    if not path.exists():
        return {}
    return parse(path.read_text(encoding="utf-8"), str(path))


def _carried_to(address: str, moved: Mapping[str, str], present: set[str]) -> str | None:
    """Where a chain of `moved` blocks takes `address` in this stack, if anywhere.
    Terraform follows chains (A -> B, B -> C), so a refactor may keep older blocks."""
    seen = {address}
    target = moved.get(address)
    while target is not None and target not in present and target not in seen:
        seen.add(target)
        target = moved.get(target)
    return target if target in present else None


def problems(
    environment: str, ledger: str, entries: Mapping[str, Entry], stack: Mapping[str, Any]
) -> list[str]:
    """Every way the stack breaks the ledger (`ledger` names its file), one line each,
    saying what to do."""
    present = managed_addresses(stack)
    moved = moves(stack)
    found: list[str] = []
    for address in sorted(forgotten(stack) & entries.keys()):
        if entries[address].retired is None:
            found.append(
                f"environment {environment}: a removed block forgets {address}, which {ledger}"
                f" lists as live; mark its line `{address} {RETIRED} <why>`"
            )
    for address, entry in sorted(entries.items()):
        if entry.retired is not None:
            if address in present:
                found.append(
                    f"environment {environment}: {address} is marked retired in {ledger} but the"
                    f" stack has it again; remove the mark (`{RETIRED} ...`) from its line, so"
                    " that its next deletion is checked"
                )
            continue
        if address in present or _carried_to(address, moved, present) is not None:
            continue
        target = moved.get(address)
        if target is not None:
            found.append(
                f"environment {environment}: {address} is moved to {target}, which the stack"
                " does not have; point the moved block at the resource's new address"
            )
            continue
        found.append(
            f"environment {environment}: the stack no longer has {address}, released in"
            f" {ledger}: Terraform would destroy it, with any tasks it holds. Keep its logical"
            " id, or carry it with a moved block (on the new resource:"
            f' `.move_from_id("{address}")`), or, if deleting it loses no task, mark its line'
            f" `{address} {RETIRED} <why>`"
        )
    unlisted = sorted(present - entries.keys())
    if unlisted:
        found.append(
            f"environment {environment}: {ledger} does not list {len(unlisted)} of the stack's"
            f" addresses yet ({', '.join(unlisted[:3])}{', ...' if len(unlisted) > 3 else ''});"
            f" run `{UPDATE_COMMAND}` and commit the ledger"
        )
    return found


def orphans(ledger_dir: Path, environments: Collection[str]) -> list[str]:
    """A ledger whose environment the app no longer builds still lists live addresses:
    dropping an environment destroys everything it released. One line each."""
    found: list[str] = []
    for ledger in sorted(ledger_dir.glob("*.txt")):
        if ledger.stem in environments:
            continue
        live = [address for address, entry in read(ledger).items() if entry.retired is None]
        if live:
            found.append(
                f"{ledger} names no environment of the app (expected one of"
                f" {', '.join(environments)}), yet {len(live)} of its addresses are not retired"
                f" ({live[0]}, ...): Terraform would destroy them with their tasks; mark each"
                " retired once the environment is drained and destroyed"
            )
    return found


def update(path: Path, environment: str, stack: Mapping[str, Any]) -> list[str]:
    """Add the stack's addresses that `path` lacks (creating it for a new environment);
    the added addresses, sorted. Nothing already there changes."""
    text = path.read_text(encoding="utf-8") if path.exists() else _header(environment)
    entries = parse(text, str(path))
    added = sorted(managed_addresses(stack) - entries.keys())
    if added or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(with_added(text, added), encoding="utf-8")
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", type=Path, help="cdktf.out/stacks")
    parser.add_argument("ledger_dir", type=Path, help="tests/ledger")
    args = parser.parse_args(argv)
    stack_files = sorted(args.stacks.glob("*/cdk.tf.json"))
    if not stack_files:
        print(f"error: {args.stacks} holds no synthesized stack; run `make synth`", file=sys.stderr)
        return 2
    try:
        for stack_file in stack_files:
            environment = stack_file.parent.name
            ledger = args.ledger_dir / f"{environment}.txt"
            stack = json.loads(stack_file.read_text(encoding="utf-8"))
            added = update(ledger, environment, stack)
            print(f"{ledger}: {len(added)} new address{'' if len(added) == 1 else 'es'}")
            for address in added:
                print(f"  + {address}")
    except (LedgerError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
