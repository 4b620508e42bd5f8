"""The plan guard on real plans: Terraform against moto, the `local` stack, step by step.

The script an operator follows: deploy, let tasks wait in worker 3's queue, lower `workers`
(refused, naming the queue and its count), drain it (let through), switch `fifo` with a task
waiting (refused), name the queue in the allow list (let through), add a worker (untouched).
The tests run in file order on one deployment, as the steps of that one story.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import (
    PROJECT_ROOT,
    PROVIDER_HINT,
    emulator_client,
    point_local_at,
    run,
)
from tests.synth_helpers import copy_app
from tools.moto_server import EMULATOR_CREDENTIALS

WORKER_3_QUEUE = "aws_sqs_queue.sqs_worker_3_queue_836A2801"
WORKER_1_QUEUE = "aws_sqs_queue.sqs_worker_1_queue_D8FE951A"


@dataclass
class Checkout:
    root: Path
    env: dict[str, str]
    sqs: Any

    def configure(self, **values: object) -> None:
        """Set top-level keys and `[sqs]` keys of config/local.toml, as an operator edits it."""
        path = self.root / "config" / "local.toml"
        text = path.read_text()
        for key, value in values.items():
            line = f"{key} = {str(value).lower() if isinstance(value, bool) else value}"
            text, found = re.subn(rf"(?m)^{key} = .*$", line, text)
            if not found:
                text = text.replace("[sqs]\n", f"[sqs]\n{line}\n")
        path.write_text(text)

    def guard(self, *arguments: str, allow: str = "") -> subprocess.CompletedProcess[str]:
        """`make plan` (or, with --apply, `make deploy`) of this checkout's local stack."""
        synth = run([sys.executable, "main.py"], cwd=self.root, env=self.env, timeout=300)
        assert synth.returncode == 0, synth.stderr
        stack_dir = self.root / "cdktf.out" / "stacks" / "local"
        command = [sys.executable, "-m", "tools.plan_guard", str(stack_dir), *arguments]
        return run(
            command, cwd=PROJECT_ROOT, env={**self.env, "ALLOW_TASK_LOSS": allow}, timeout=900
        )

    def url(self, name: str) -> str:
        url: str = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return url


@pytest.fixture(scope="module")
def checkout(
    tmp_path_factory: pytest.TempPathFactory, terraform_env: dict[str, str], moto_endpoint: str
) -> Checkout:
    root = copy_app(tmp_path_factory.mktemp("guard") / "app")
    point_local_at(root, moto_endpoint)
    env = {
        **terraform_env,
        **EMULATOR_CREDENTIALS,
        "PYTHONPATH": str(root),
    }
    sqs = emulator_client("sqs", moto_endpoint)
    deployed = Checkout(root, env, sqs)
    first = deployed.guard("--apply")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:] + PROVIDER_HINT
    # No destroy: the module's own moto goes at its end, and everything it holds with it.
    return deployed


def test_lowering_workers_with_tasks_waiting_is_refused_and_names_the_queue(
    checkout: Checkout,
) -> None:
    url = checkout.url("mlTrainingQueue-local-worker-3")
    checkout.sqs.send_message(QueueUrl=url, MessageBody="task for worker 3", DelaySeconds=0)
    checkout.configure(workers=2)
    result = checkout.guard()
    assert result.returncode == 4, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"| {WORKER_3_QUEUE} | delete |  | 1 |" in result.stdout
    assert f"  {WORKER_3_QUEUE} (delete, tasks waiting: 1)" in result.stderr
    assert "ALLOW_TASK_LOSS=" in result.stderr
    assert checkout.url("mlTrainingQueue-local-worker-3") == url  # nothing was applied


def test_once_drained_the_same_change_goes_through(checkout: Checkout) -> None:
    url = checkout.url("mlTrainingQueue-local-worker-3")
    [message] = checkout.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    checkout.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    result = checkout.guard("--apply")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"| {WORKER_3_QUEUE} | delete |  | 0 |" in result.stdout
    names = {url.rsplit("/", 1)[1] for url in checkout.sqs.list_queues()["QueueUrls"]}
    assert "mlTrainingQueue-local-worker-3" not in names
    assert "mlTrainingQueue-local-worker-2" in names


def test_switching_fifo_with_a_task_waiting_is_refused(checkout: Checkout) -> None:
    url = checkout.url("mlTrainingQueue-local-worker-1")
    checkout.sqs.send_message(QueueUrl=url, MessageBody="task for worker 1", DelaySeconds=0)
    checkout.configure(fifo=True)
    result = checkout.guard()
    assert result.returncode == 4, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(
        rf"\| {re.escape(WORKER_1_QUEUE)} \| replace \| [^|]*name[^|]* \| 1 \|", result.stdout
    ), result.stdout
    assert f"  {WORKER_1_QUEUE} (replace, tasks waiting: 1)" in result.stderr


def test_the_allow_list_lets_the_operator_agree_to_the_loss(checkout: Checkout) -> None:
    result = checkout.guard("--apply", allow=WORKER_1_QUEUE)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"| {WORKER_1_QUEUE} | replace |" in result.stdout
    assert "(allowed by ALLOW_TASK_LOSS)" in result.stdout
    assert checkout.url("mlTrainingQueue-local-worker-1.fifo")


def test_adding_a_worker_passes_untouched(checkout: Checkout) -> None:
    checkout.configure(workers=3)
    result = checkout.guard()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| aws_")]
    assert rows and not [row for row in rows if "| delete |" in row or "| replace |" in row]
    assert any("sqs_worker_3_queue" in row and "| create |" in row for row in rows)
