"""The `local` environment with 100 workers, deployed into moto the way `make deploy` does
(the plan guard, at the parallelism it chooses) and planned again: what a routine change at
that size goes through, on real Terraform.

Why a test of its own: the behaviour tests run on three workers, which hides anything that
grows with N (name patterns in the one producer policy, the alarms' tag queries, the time an
apply takes, and whether the guard's estimate of it holds). 100 workers give about 200
resources, of which the AWS provider waits on each queue (about 26 s).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import (
    PROJECT_ROOT,
    PROVIDER_HINT,
    cdktf_env,
    emulator_client,
    point_local_at,
    run,
)
from tests.synth_helpers import copy_app, selected_by_tags

WORKERS = 100
STACK = Path("cdktf.out") / "stacks" / "local"
_APPLIED = re.compile(r"^applied in (\d+) s \(estimated (\d+) s\)$", re.MULTILINE)


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory, terraform_env: dict[str, str], moto_endpoint: str
) -> Iterator[tuple[Path, dict[str, str], dict[str, Any]]]:
    checkout = copy_app(tmp_path_factory.mktemp("scale") / "app")
    config = checkout / "config" / "local.toml"
    text, count = re.subn(r"(?m)^workers = \d+$", f"workers = {WORKERS}", config.read_text())
    assert count == 1, "config/local.toml must say `workers = N` once"
    config.write_text(text)
    point_local_at(checkout, moto_endpoint)
    env = cdktf_env(terraform_env, checkout)
    synth = run([sys.executable, "main.py"], cwd=checkout, env=env, timeout=600)
    assert synth.returncode == 0, synth.stdout[-2000:] + synth.stderr[-2000:]
    # `make deploy`'s guard, from this project, on the copy's stack.
    deploy = run(
        [sys.executable, "-m", "tools.plan_guard", str(checkout / STACK), "--apply"],
        cwd=PROJECT_ROOT,
        env=env,
        timeout=1500,
    )
    assert deploy.returncode == 0, deploy.stdout[-4000:] + deploy.stderr[-4000:] + PROVIDER_HINT
    # The guard's estimate holds: the apply took between half and twice as long.
    [(applied, estimated)] = _APPLIED.findall(deploy.stdout)
    assert int(estimated) / 2 <= int(applied) <= 2 * int(estimated), deploy.stdout[-1000:]
    outputs = run(["terraform", "output", "-json"], cwd=checkout / STACK, env=env, timeout=300)
    assert outputs.returncode == 0, outputs.stderr
    # No destroy: stopping moto at the end of the module drops everything it holds.
    yield checkout, env, {k: v["value"] for k, v in json.loads(outputs.stdout).items()}


def test_every_worker_has_its_queue_its_dead_letter_queue_and_its_tags(
    deployed: tuple[Path, dict[str, str], dict[str, Any]], moto_endpoint: str
) -> None:
    _, _, outputs = deployed
    sqs = emulator_client("sqs", moto_endpoint)
    urls = sqs.list_queues(MaxResults=1000)["QueueUrls"]
    names = {url.rsplit("/", 1)[1]: url for url in urls}
    workers = [f"mlTrainingQueue-local-worker-{n}" for n in range(1, WORKERS + 1)]
    assert set(names) == {
        name for source in ["mlTrainingQueue-local", *workers] for name in (source, f"{source}-dlq")
    }
    assert outputs["sqs_worker_queue_urls"] == [names[name] for name in workers]
    tags = {name: sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) for name, url in names.items()}
    cloudwatch = emulator_client("cloudwatch", moto_endpoint)
    alarms = {
        alarm["AlarmName"]: selected_by_tags(alarm["Metrics"][0]["Expression"], tags)
        for alarm in cloudwatch.describe_alarms()["MetricAlarms"]
    }
    blind = alarms.pop("mlTrainingQueue-local-alarms-blind")
    assert blind == set(names)
    # Together the other two watch every queue, each queue once.
    assert sorted(len(queues) for queues in alarms.values()) == [WORKERS + 1, WORKERS + 1]
    assert set().union(*alarms.values()) == set(names)


def test_a_task_sent_to_the_last_worker_s_url_waits_there_and_in_no_other_queue(
    deployed: tuple[Path, dict[str, str], dict[str, Any]], moto_endpoint: str
) -> None:
    _, _, outputs = deployed
    sqs = emulator_client("sqs", moto_endpoint)
    last = outputs["sqs_worker_queue_urls"][-1]
    sqs.send_message(QueueUrl=last, MessageBody='{"shard": 100}')
    deadline = time.monotonic() + 30
    received: list[dict[str, Any]] = []
    while not received and time.monotonic() < deadline:
        received = sqs.receive_message(QueueUrl=last, WaitTimeSeconds=1).get("Messages", [])
    assert [message["Body"] for message in received] == ['{"shard": 100}']
    sqs.delete_message(QueueUrl=last, ReceiptHandle=received[0]["ReceiptHandle"])
    for url in outputs["sqs_worker_queue_urls"][:-1]:
        counts = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        assert set(counts.values()) == {"0"}, url


def _changed(change: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    before, after = change["before"], change["after"]
    return {
        key: (before.get(key), after.get(key)) for key in after if before.get(key) != after.get(key)
    }


def test_a_second_plan_changes_nothing(
    deployed: tuple[Path, dict[str, str], dict[str, Any]],
) -> None:
    """Nothing but one emulator artefact: moto answers a queue's RedrivePolicy with spaces
    after its separators, and the provider plans to write back the same document in compact
    JSON (SQS itself answers compact). Any other change fails the test."""
    checkout, env, _ = deployed
    stack = checkout / STACK
    plan = run(
        ["terraform", "plan", "-input=false", "-lock=false", "-out=second.tfplan"],
        cwd=stack,
        env=env,
        timeout=900,
    )
    assert plan.returncode == 0, plan.stdout[-4000:] + plan.stderr[-4000:]
    shown = run(["terraform", "show", "-json", "second.tfplan"], cwd=stack, env=env, timeout=300)
    assert shown.returncode == 0, shown.stderr
    changes = json.loads(shown.stdout)["resource_changes"]
    assert len(changes) > 2 * WORKERS
    for change in changes:
        actions = change["change"]["actions"]
        if actions == ["no-op"]:
            continue
        assert actions == ["update"], (change["address"], actions)
        changed = _changed(change["change"])
        assert set(changed) == {"redrive_policy"}, (change["address"], changed)
        before, after = changed["redrive_policy"]
        assert json.loads(before) == json.loads(after), change["address"]
