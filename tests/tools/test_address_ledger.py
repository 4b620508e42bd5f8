"""The address ledger's reading, its check and `make ledger-update`'s tool.

The `moved` cases are real stacks synthesized by cdktf: a queue whose construct path a
refactor changes, carried (or not) by the blocks `move_from_id` and `move_to` write.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cdktf import TerraformStack, Testing
from constructs import Construct

from constructs_lib.providers import SqsQueue
from tests.synth_helpers import synth
from tools import address_ledger
from tools.address_ledger import Entry, LedgerError, parse, problems, update

LEDGER = "tests/ledger/mine.txt"
# The queue as released: directly in the stack.
RELEASED = "aws_sqs_queue.tasks"


def _released() -> dict[str, Any]:
    stack = TerraformStack(Testing.app(), "mine")
    SqsQueue(stack, "tasks", name="tasks")
    return synth(stack)


def _refactored() -> tuple[TerraformStack, SqsQueue]:
    """The same queue after a refactor moved it into a construct of its own."""
    stack = TerraformStack(Testing.app(), "mine")
    return stack, SqsQueue(Construct(stack, "channel"), "tasks", name="tasks")


def _ledger_of(stack: dict[str, Any]) -> dict[str, Entry]:
    return {address: Entry(address) for address in address_ledger.managed_addresses(stack)}


def test_the_released_stack_is_what_the_ledger_lists() -> None:
    released = _released()
    assert address_ledger.managed_addresses(released) == {RELEASED}
    assert problems("mine", LEDGER, _ledger_of(released), released) == []


def test_a_renamed_resource_without_a_moved_block_fails_naming_what_to_do() -> None:
    stack, queue = _refactored()
    found = problems("mine", LEDGER, _ledger_of(_released()), synth(stack))
    assert found == [
        f"environment mine: the stack no longer has {RELEASED}, released in {LEDGER}:"
        " Terraform would destroy it, with any tasks it holds. Keep its logical id, or carry it"
        f' with a moved block (on the new resource: `.move_from_id("{RELEASED}")`), or, if'
        f" deleting it loses no task, mark its line `{RELEASED} retired: <why>`",
        f"environment mine: {LEDGER} does not list 1 of the stack's addresses yet"
        f" (aws_sqs_queue.{queue.friendly_unique_id}); run `make ledger-update` and commit the"
        " ledger",
    ]


def test_move_from_id_writes_the_block_that_carries_the_address() -> None:
    stack, queue = _refactored()
    queue.move_from_id(RELEASED)
    refactored = synth(stack)
    new_address = f"aws_sqs_queue.{queue.friendly_unique_id}"
    assert refactored["moved"] == [{"from": RELEASED, "to": new_address}]
    assert address_ledger.managed_addresses(refactored) == {new_address}
    ledger = _ledger_of(_released())
    assert [line for line in problems("mine", LEDGER, ledger, refactored)] == [
        f"environment mine: {LEDGER} does not list 1 of the stack's addresses yet"
        f" ({new_address}); run `make ledger-update` and commit the ledger"
    ]
    ledger[new_address] = Entry(new_address)
    assert problems("mine", LEDGER, ledger, refactored) == []


def test_move_to_a_target_carries_the_address_too() -> None:
    stack = TerraformStack(Testing.app(), "mine")
    old = SqsQueue(stack, "tasks", name="tasks")
    new = SqsQueue(Construct(stack, "channel"), "tasks", name="tasks")
    new.add_move_target("tasks")
    old.move_to("tasks")
    refactored = synth(stack)
    assert address_ledger.managed_addresses(refactored) == {
        f"aws_sqs_queue.{new.friendly_unique_id}"
    }
    ledger = {**_ledger_of(_released()), **_ledger_of(refactored)}
    assert problems("mine", LEDGER, ledger, refactored) == []


def test_a_moved_block_to_an_address_the_stack_lacks_fails() -> None:
    stack = TerraformStack(Testing.app(), "mine")
    SqsQueue(stack, "tasks", name="tasks").move_to_id("aws_sqs_queue.nowhere")
    moved_away = synth(stack)
    assert moved_away["moved"] == [{"from": RELEASED, "to": "aws_sqs_queue.nowhere"}]
    assert problems("mine", LEDGER, _ledger_of(_released()), moved_away) == [
        f"environment mine: {RELEASED} is moved to aws_sqs_queue.nowhere, which the stack does"
        " not have; point the moved block at the resource's new address"
    ]


def _stack(*addresses: str, moved: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    resources: dict[str, dict[str, Any]] = {}
    for address in addresses:
        resource_type, name = address.split(".")
        resources.setdefault(resource_type, {})[name] = {}
    stack: dict[str, Any] = {"resource": resources}
    if moved:
        stack["moved"] = [{"from": old, "to": new} for old, new in moved]
    return stack


def test_a_chain_of_moved_blocks_carries_the_oldest_address() -> None:
    ledger = {a: Entry(a) for a in ("aws_sqs_queue.a", "aws_sqs_queue.b", "aws_sqs_queue.c")}
    chained = _stack(
        "aws_sqs_queue.c",
        moved=(("aws_sqs_queue.a", "aws_sqs_queue.b"), ("aws_sqs_queue.b", "aws_sqs_queue.c")),
    )
    assert problems("mine", LEDGER, ledger, chained) == []
    cycle = _stack(
        "aws_sqs_queue.c",
        moved=(("aws_sqs_queue.a", "aws_sqs_queue.b"), ("aws_sqs_queue.b", "aws_sqs_queue.a")),
    )
    assert len(problems("mine", LEDGER, ledger, cycle)) == 2


def test_an_instance_of_a_for_each_resource_is_a_target() -> None:
    ledger = {a: Entry(a) for a in ("aws_sqs_queue.a", "aws_sqs_queue.queues")}
    moved = _stack(
        "aws_sqs_queue.queues", moved=(("aws_sqs_queue.a", 'aws_sqs_queue.queues["a"]'),)
    )
    assert problems("mine", LEDGER, ledger, moved) == []


def test_a_retired_address_may_go_and_may_not_come_back_unnoticed() -> None:
    ledger = {
        "aws_sqs_queue_policy.p": Entry("aws_sqs_queue_policy.p", "holds no task"),
        "aws_sqs_queue.q": Entry("aws_sqs_queue.q"),
    }
    assert problems("mine", LEDGER, ledger, _stack("aws_sqs_queue.q")) == []
    assert problems(
        "mine", LEDGER, ledger, _stack("aws_sqs_queue.q", "aws_sqs_queue_policy.p")
    ) == [
        f"environment mine: aws_sqs_queue_policy.p is marked retired in {LEDGER} but the stack"
        " has it again; remove the mark (`retired: ...`) from its line, so that its next"
        " deletion is checked"
    ]


def test_data_sources_and_ephemeral_resources_are_not_released_addresses() -> None:
    stack = {
        **_stack("aws_sqs_queue.q"),
        "data": {"google_project": {"project": {}}},
        "ephemeral": {"random_password": {"p": {}}},
    }
    assert address_ledger.managed_addresses(stack) == {"aws_sqs_queue.q"}


def test_the_ledger_format() -> None:
    text = (
        "# comment\n"
        "\n"
        "aws_sqs_queue.a\n"
        "aws_sqs_queue_policy.b retired: deleting a policy loses no task (issue 26)\n"
        "rabbitmq_queue.worker-1\n"
    )
    assert parse(text, LEDGER) == {
        "aws_sqs_queue.a": Entry("aws_sqs_queue.a"),
        "aws_sqs_queue_policy.b": Entry(
            "aws_sqs_queue_policy.b", "deleting a policy loses no task (issue 26)"
        ),
        "rabbitmq_queue.worker-1": Entry("rabbitmq_queue.worker-1"),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("aws_sqs_queue\n", "line 1: 'aws_sqs_queue' is not a resource address `<type>.<name>`"),
        (
            "aws_sqs_queue.a gone\n",
            "line 1: expected `aws_sqs_queue.a` alone or `aws_sqs_queue.a retired: <reason>`,"
            " got 'aws_sqs_queue.a gone'",
        ),
        (
            "aws_sqs_queue.a retired:\n",
            "line 1: expected `aws_sqs_queue.a` alone or `aws_sqs_queue.a retired: <reason>`,"
            " got 'aws_sqs_queue.a retired:'",
        ),
        ("aws_sqs_queue.a\naws_sqs_queue.a\n", "line 2: aws_sqs_queue.a is listed twice"),
        (
            "aws_sqs_queue.b\n# c\naws_sqs_queue.a\n",
            "line 3: aws_sqs_queue.a is out of order; the lines are sorted",
        ),
    ],
)
def test_a_malformed_ledger_is_one_line_naming_file_and_line(text: str, message: str) -> None:
    with pytest.raises(LedgerError) as raised:
        parse(text, LEDGER)
    assert str(raised.value) == f"{LEDGER} {message}"


def test_update_adds_in_order_and_keeps_every_line(tmp_path: Path) -> None:
    ledger = tmp_path / "mine.txt"
    kept = "# a note of our own\naws_sqs_queue.b\naws_sqs_queue_policy.x retired: no task\n"
    ledger.write_text(kept)
    stack = _stack("aws_sqs_queue.a", "aws_sqs_queue.b", "aws_sqs_queue.c")
    assert update(ledger, "mine", stack) == ["aws_sqs_queue.a", "aws_sqs_queue.c"]
    assert ledger.read_text() == (
        "# a note of our own\n"
        "aws_sqs_queue.a\n"
        "aws_sqs_queue.b\n"
        "aws_sqs_queue.c\n"
        "aws_sqs_queue_policy.x retired: no task\n"
    )
    # The stack dropped b: update never removes it; the check reports it.
    assert update(ledger, "mine", _stack("aws_sqs_queue.a")) == []
    assert "aws_sqs_queue.b\n" in ledger.read_text()


def _write_stacks(root: Path, **stacks: dict[str, Any]) -> Path:
    for environment, stack in stacks.items():
        (root / environment).mkdir(parents=True)
        (root / environment / "cdk.tf.json").write_text(json.dumps(stack))
    return root


def test_the_command_creates_and_extends_ledgers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks = _write_stacks(tmp_path / "stacks", dev=_stack("aws_sqs_queue.a", "aws_sqs_queue.b"))
    ledgers = tmp_path / "ledger"
    assert address_ledger.main([str(stacks), str(ledgers)]) == 0
    assert capsys.readouterr().out == (
        f"{ledgers}/dev.txt: 2 new addresses\n  + aws_sqs_queue.a\n  + aws_sqs_queue.b\n"
    )
    written = (ledgers / "dev.txt").read_text()
    assert written.startswith("# Every resource address environment dev has released")
    assert parse(written, "dev.txt") == {
        "aws_sqs_queue.a": Entry("aws_sqs_queue.a"),
        "aws_sqs_queue.b": Entry("aws_sqs_queue.b"),
    }
    assert address_ledger.main([str(stacks), str(ledgers)]) == 0
    assert capsys.readouterr().out == f"{ledgers}/dev.txt: 0 new addresses\n"
    assert (ledgers / "dev.txt").read_text() == written


def test_the_command_refuses_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert address_ledger.main([str(tmp_path / "stacks"), str(tmp_path / "ledger")]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path}/stacks holds no synthesized stack; run `make synth`\n"
    )
    stacks = _write_stacks(tmp_path / "stacks", dev=_stack("aws_sqs_queue.a"))
    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "dev.txt").write_text("aws_sqs_queue.b\naws_sqs_queue.a\n")
    assert address_ledger.main([str(stacks), str(tmp_path / "ledger")]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path}/ledger/dev.txt line 2: aws_sqs_queue.a is out of order; the lines"
        " are sorted\n"
    )
    assert (tmp_path / "ledger" / "dev.txt").read_text() == "aws_sqs_queue.b\naws_sqs_queue.a\n"


def test_a_ledger_whose_environment_is_gone_must_be_retired_whole(tmp_path: Path) -> None:
    (tmp_path / "dev.txt").write_text("aws_sqs_queue.a\n")
    (tmp_path / "old.txt").write_text("aws_sqs_queue.a\naws_sqs_queue.b retired: drained\n")
    assert address_ledger.orphans(tmp_path, ("dev",)) == [
        f"{tmp_path}/old.txt names no environment of the app (expected one of dev), yet 1 of"
        " its addresses are not retired (aws_sqs_queue.a, ...): Terraform would destroy them"
        " with their tasks; mark each retired once the environment is drained and destroyed"
    ]
    (tmp_path / "old.txt").write_text("aws_sqs_queue.a retired: drained, destroyed\n")
    assert address_ledger.orphans(tmp_path, ("dev",)) == []


def test_an_address_a_removed_block_forgets_must_be_marked_retired() -> None:
    """Forgetting loses nothing in the cloud, yet the address leaves state: the ledger says
    why, like any other address that goes."""
    stack = {**_stack("aws_sqs_queue.q"), "removed": [{"from": "aws_sqs_queue_policy.p"}]}
    live = {
        "aws_sqs_queue_policy.p": Entry("aws_sqs_queue_policy.p"),
        "aws_sqs_queue.q": Entry("aws_sqs_queue.q"),
    }
    assert problems("mine", LEDGER, live, stack)[0] == (
        f"environment mine: a removed block forgets aws_sqs_queue_policy.p, which {LEDGER}"
        " lists as live; mark its line `aws_sqs_queue_policy.p retired: <why>`"
    )
    retired = {**live, "aws_sqs_queue_policy.p": Entry("aws_sqs_queue_policy.p", "forgotten")}
    assert problems("mine", LEDGER, retired, stack) == []
