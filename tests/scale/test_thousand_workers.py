"""prod's configuration with 1,000 workers, the most the design allows, through every static
check the real environments get: the provider schemas, IAM's size limits and checkov.

Why a suite of its own (`make test-scale`): the synth alone takes about half a minute and
checkov a few more, too slow for `make test` before every commit, and CI runs it anyway.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cdktf import App

from constructs_lib import limits
from constructs_lib.sqs.policies import MANAGED_POLICY_CHARS, ROLE_INLINE_POLICIES_CHARS, size
from stacks.ml_queues_stack import MlQueuesStack
from tests.schema_check import google_schema, rabbitmq_schema, stack_problems
from tests.synth_helpers import environment

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
CHECKOV = PROJECT_ROOT / ".cache" / "checkov" / "bin" / "checkov"
WORKERS = limits.MAX_WORKERS
# A 12-digit account: ARNs as long as real ones.
ACCOUNT = "123456789012"
REFERENCE = re.compile(r"\b(aws_\w+)\.(\w+)\.arn\b")
# The stack's own account in an ARN pattern, as its provider reports it.
OWN_ACCOUNT = re.compile(r"\$\{data\.aws_caller_identity\.\w+\.account_id\}")
# The resources and data sources of worker N, by logical id: `sqs_worker_N_queue_...`,
# `rabbitmq_task_exchange_worker_queue_N_...`, `rabbitmq_worker_N_password`.
WORKER_ID = re.compile(r"(?:^|_)worker_(?:queue_)?(\d+)(?:_|$)")
SECTIONS = ("resource", "data")
CHUNK_WORKERS = 100


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    outdir = tmp_path_factory.mktemp("scale")
    app = App(outdir=str(outdir))
    MlQueuesStack(app, environment("prod", workers=WORKERS))
    app.synth()
    stack = outdir / "stacks" / "prod" / "cdk.tf.json"
    return outdir / "stacks", json.loads(stack.read_text())


def test_every_worker_has_its_queue_topic_and_broker_queue(
    synthesized: tuple[Path, dict[str, Any]],
) -> None:
    _, stack = synthesized
    resource = stack["resource"]
    names = {body["name"] for body in resource["aws_sqs_queue"].values()}
    assert f"mlTrainingQueue-prod-worker-{WORKERS}" in names
    assert len(resource["google_pubsub_topic"]) == WORKERS + 2  # the shared and dead letters
    assert len(resource["rabbitmq_queue"]) == WORKERS + 2  # dead letters and unroutable
    assert len(stack["output"]["sqs_worker_queue_urls"]["value"]) == WORKERS
    # What does not grow with the workers stays as it is at three.
    assert len(resource["aws_cloudwatch_metric_alarm"]) == 3
    assert len(resource["google_monitoring_alert_policy"]) == 2


@pytest.mark.parametrize(
    ("prefix", "schemas", "section"),
    [
        ("rabbitmq_", rabbitmq_schema, "resource"),
        ("google_", google_schema, "resource"),
        ("google_", google_schema, "data"),
    ],
)
def test_the_resources_fit_their_provider_schemas(
    synthesized: tuple[Path, dict[str, Any]], prefix: str, schemas: Any, section: str
) -> None:
    _, stack = synthesized
    checked, problems = stack_problems({"prod": stack}, prefix, schemas(), section)
    assert problems == []
    assert checked > 0


def _document(policy: str, arns: dict[tuple[str, str], str]) -> dict[str, Any]:
    """The policy IAM would get: cdktf's `jsonencode({...})` with each resource's ARN and
    the account in place of their references."""
    body = policy.removeprefix("${jsonencode(").removesuffix(")}")
    body = REFERENCE.sub(lambda match: json.dumps(arns[match.group(1), match.group(2)]), body)
    body = OWN_ACCOUNT.sub(ACCOUNT, body)
    document: dict[str, Any] = json.loads(body.replace('" = ', '": '))
    return document


def _arns(stack: dict[str, Any], region: str) -> dict[tuple[str, str], str]:
    """The ARN each referenced resource will have, from its name in the JSON."""
    services = {
        "aws_sqs_queue": "sqs:{region}:{account}:{name}",
        "aws_ssm_parameter": "ssm:{region}:{account}:parameter{name}",
    }
    return {
        (
            kind,
            logical_id,
        ): f"arn:aws:{template.format(region=region, account=ACCOUNT, name=body['name'])}"
        for kind, template in services.items()
        for logical_id, body in stack["resource"].get(kind, {}).items()
    }


def test_every_role_s_inline_policies_fit_iam_s_limits(
    synthesized: tuple[Path, dict[str, Any]],
) -> None:
    _, stack = synthesized
    [provider] = stack["provider"]["aws"]
    arns = _arns(stack, provider["region"])
    by_role: dict[str, list[int]] = defaultdict(list)
    for body in stack["resource"]["aws_iam_role_policy"].values():
        by_role[body["role"]].append(size(_document(body["policy"], arns)))
    assert len(by_role) == WORKERS + 1  # the producer and every worker
    for role, sizes in by_role.items():
        assert sum(sizes) <= ROLE_INLINE_POLICIES_CHARS, role
        assert max(sizes) <= MANAGED_POLICY_CHARS, role


def _chunks(stack: dict[str, Any], size: int) -> list[dict[str, Any]]:
    """The stack cut into stacks of `size` workers, each with every resource not of one
    worker (shared queues, topics, the exchange, alarms, providers): each worker's resources
    with all they refer to, every resource in at least one chunk. Outputs are left out."""
    chunks = []
    for first in range(1, WORKERS + 1, size):
        wanted = range(first, min(first + size, WORKERS + 1))
        chunk = {key: value for key, value in stack.items() if key not in SECTIONS}
        for section in SECTIONS:
            chunk[section] = {
                kind: {
                    logical_id: body
                    for logical_id, body in bodies.items()
                    if (match := WORKER_ID.search(logical_id)) is None
                    or int(match.group(1)) in wanted
                }
                for kind, bodies in stack.get(section, {}).items()
            }
        chunks.append(chunk)
    return chunks


def _scan(stacks: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.checkov_scan", "--checkov", str(CHECKOV), str(stacks)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def test_checkov_finds_nothing(synthesized: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """checkov keeps the whole stack's graph in memory, and on all 1,000 workers at once it
    outgrew this machine's 24 GiB; a chunk of 100 workers needs about 1 GB."""
    _, stack = synthesized
    if not CHECKOV.exists():
        pytest.fail(
            f"checkov is not installed at {CHECKOV}: `make test-scale` installs it", pytrace=False
        )
    chunks = _chunks(stack, CHUNK_WORKERS)
    scanned = {i for chunk in chunks for bodies in chunk["resource"].values() for i in bodies}
    assert scanned == {i for bodies in stack["resource"].values() for i in bodies}
    folders = []
    for number, chunk in enumerate(chunks, start=1):
        folder = tmp_path / f"chunk-{number}"
        (folder / "prod").mkdir(parents=True)
        (folder / "prod" / "cdk.tf.json").write_text(json.dumps(chunk))
        folders.append(folder)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        scans = list(pool.map(_scan, folders))
    for folder, scan in zip(folders, scans, strict=True):
        assert scan.returncode == 0, folder.name + scan.stdout[-4000:] + scan.stderr[-4000:]
        assert re.search(r"checkov: \d+ passed, 0 failed", scan.stdout), scan.stdout[-2000:]
