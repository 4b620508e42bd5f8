"""`terraform init` and `terraform validate` on the AWS part of every environment's stack.

Only the AWS provider is in this machine's mirror, so each environment is synthesized with
its other backends switched off; the Google and RabbitMQ resources are checked against
their schemas instead (tests/stacks/test_schema.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cdktf import App

from stacks.ml_queues_stack import MlQueuesStack
from stacks.settings import ENVIRONMENTS
from tests.integration.harness import PROVIDER_HINT, run
from tests.synth_helpers import environment


@pytest.fixture(scope="module")
def aws_only_stacks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("aws-only")
    app = App(outdir=str(outdir))
    off = {"enabled": False}
    for env in ENVIRONMENTS:
        MlQueuesStack(app, environment(env, pubsub=off, rabbitmq=off))
    app.synth()
    return outdir / "stacks"


def _terraform(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run(["terraform", *args], cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_aws_part_passes_init_and_validate(
    aws_only_stacks: Path, terraform_env: dict[str, str], env_name: str
) -> None:
    stack_dir = aws_only_stacks / env_name
    assert "aws_sqs_queue" in (stack_dir / "cdk.tf.json").read_text()
    # -backend=false: remote state needs cloud credentials, and validate does not use it.
    init = _terraform(
        ["init", "-backend=false", "-input=false", "-no-color"], stack_dir, terraform_env
    )
    assert init.returncode == 0, init.stdout + init.stderr + PROVIDER_HINT
    validate = _terraform(["validate", "-json", "-no-color"], stack_dir, terraform_env)
    result = json.loads(validate.stdout)
    assert result["valid"], json.dumps(result["diagnostics"], indent=2)
    assert result["error_count"] == 0 and result["warning_count"] == 0
