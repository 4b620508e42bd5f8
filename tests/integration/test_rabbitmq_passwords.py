"""RabbitMQ passwords on real Terraform against moto: kept, rotated, and printed by nothing.

The rabbitmq provider cannot be installed here, so a sensitive output per user stands in for
the `rabbitmq_user` that takes the same reference (`data.aws_ssm_parameter.<id>.value`; the
provider marks `rabbitmq_user.password` sensitive too). The stack is the passwords construct
and one SQS queue holding a task, its AWS provider pointed at moto for SSM, Secrets Manager
(the generator), IAM (the grants), STS and SQS.

Every command a user runs is run as they run it, its stdout and stderr kept: the first
apply, a second plan, `make plan` and `make deploy` (the plan guard that they run after
synth), the documented rotation (`make rotate-password`, the guard with
`--rotate-password`), `show`, `output`, a plan the guard refuses and one that fails. Then
every password SSM has held is looked for in all of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cdktf import App, LocalBackend, TerraformOutput, TerraformStack

from constructs_lib.providers import AwsProvider, AwsProviderEndpoints, SqsQueue
from constructs_lib.rabbitmq.passwords import PASSWORD_LENGTH, RabbitMqPasswords
from constructs_lib.rabbitmq.props import RabbitMqPasswordsProps
from tests.integration.harness import PROJECT_ROOT, PROVIDER_HINT, emulator_client, run
from tools.moto_server import EMULATOR_CREDENTIALS

WORKERS = 3
PRODUCER_ROLE = "ml-it-producer"
WORKER_ROLE_TEMPLATE = "ml-it-worker-{worker}"
QUEUE_ADDRESS = "aws_sqs_queue.tasks"


def _users(environment: str) -> dict[str, str]:
    """Logical id in the stack -> broker user."""
    return {
        "rabbitmq_producer": f"ml-queues-{environment}-producer",
        **{
            f"rabbitmq_worker_{n}": f"ml-queues-{environment}-worker-{n}"
            for n in range(1, WORKERS + 1)
        },
    }


@dataclass
class Deployed:
    """One stack in moto, and everything its commands printed."""

    environment: str
    stack_dir: Path
    env: dict[str, str]
    ssm: Any
    transcript: list[tuple[str, str]] = field(default_factory=list)
    # Every value SSM has held for any user, across rotations.
    seen: set[str] = field(default_factory=set)

    def _kept(self, what: str, result: subprocess.CompletedProcess[str]) -> str:
        self.transcript.append((what, result.stdout + result.stderr))
        return result.stdout + result.stderr

    def terraform(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = run(["terraform", *args], cwd=self.stack_dir, env=self.env, timeout=600)
        self._kept(f"terraform {' '.join(args)}", result)
        return result

    def guard(self, *args: str) -> subprocess.CompletedProcess[str]:
        """What `make plan` runs after synth (`make deploy` with --apply, `make
        rotate-password` with --apply --rotate-password)."""
        command = [sys.executable, "-m", "tools.plan_guard", str(self.stack_dir), *args]
        result = run(command, cwd=PROJECT_ROOT, env=self.env, timeout=900)
        self._kept(f"plan_guard {' '.join(args)}", result)
        return result

    def passwords(self) -> dict[str, str]:
        """Each user's password as SSM holds it, by user name."""
        prefix = f"/ml-queues/{self.environment}/rabbitmq"
        found = self.ssm.get_parameters_by_path(Path=prefix, WithDecryption=True)["Parameters"]
        values = {item["Name"].rsplit("/", 1)[1]: item["Value"] for item in found}
        self.seen.update(values.values())
        return values

    def given(self) -> dict[str, str]:
        """What each broker user is given, by user name (`output -json` prints secrets, so
        it is read here and kept out of the transcript)."""
        result = run(
            ["terraform", "output", "-json"], cwd=self.stack_dir, env=self.env, timeout=120
        )
        assert result.returncode == 0, result.stderr
        users = _users(self.environment)
        return {users[id]: body["value"] for id, body in json.loads(result.stdout).items()}


def _stack(outdir: Path, environment: str, endpoint: str) -> tuple[App, TerraformStack]:
    app = App(outdir=str(outdir))
    stack = TerraformStack(app, environment)
    LocalBackend(stack, path="terraform.tfstate")
    AwsProvider(
        stack,
        "aws",
        region=EMULATOR_CREDENTIALS["AWS_DEFAULT_REGION"],
        endpoints=[
            AwsProviderEndpoints(
                ssm=endpoint, secretsmanager=endpoint, iam=endpoint, sts=endpoint, sqs=endpoint
            )
        ],
        skip_credentials_validation=True,
        skip_requesting_account_id=True,
        skip_metadata_api_check="true",
    )
    return app, stack


def _synth(
    outdir: Path,
    environment: str,
    endpoint: str,
    *,
    queue: dict[str, Any] | None,
    roles: bool = True,
) -> Path:
    """The passwords of `environment` as the stacks make them, and the queue `queue` (its
    arguments; None: the queue is gone from the configuration)."""
    app, stack = _stack(outdir, environment, endpoint)
    if queue is not None:
        SqsQueue(stack, "tasks", name=f"{environment}-tasks", **queue)
    props = RabbitMqPasswordsProps(
        password_store="ssm",
        password_region=EMULATOR_CREDENTIALS["AWS_DEFAULT_REGION"],
        producer=PRODUCER_ROLE if roles else None,
        worker_template=WORKER_ROLE_TEMPLATE if roles else None,
    )
    passwords = RabbitMqPasswords(stack, "rabbitmq_passwords", props)
    for id, user in _users(environment).items():
        worker = None if id == "rabbitmq_producer" else int(id.rsplit("_", 1)[1])
        password = passwords.password(id, user, worker=worker)
        TerraformOutput(stack, id, value=password, sensitive=True)
    app.synth()
    return outdir / "stacks" / environment


def _deployed(
    outdir: Path, environment: str, terraform_env: dict[str, str], endpoint: str
) -> Deployed:
    deployed = Deployed(
        environment=environment,
        stack_dir=outdir / "stacks" / environment,
        env={**terraform_env, **EMULATOR_CREDENTIALS},
        ssm=emulator_client("ssm", endpoint),
    )
    init = deployed.terraform("init", "-input=false", "-no-color")
    assert init.returncode == 0, init.stdout + init.stderr + PROVIDER_HINT
    return deployed


def _send_task(endpoint: str, environment: str) -> None:
    sqs = emulator_client("sqs", endpoint)
    url = sqs.get_queue_url(QueueName=f"{environment}-tasks")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody='{"shard": 7}')


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout


@dataclass
class Flow:
    deployed: Deployed
    first: dict[str, str]
    rotated: dict[str, str]
    given_after_rotation: dict[str, str]
    second_plan: int
    plan_after_rotation: int
    guard_plan: str
    refused: subprocess.CompletedProcess[str]
    failed: subprocess.CompletedProcess[str]
    unknown_worker: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def flow(
    tmp_path_factory: pytest.TempPathFactory, terraform_env: dict[str, str], moto_endpoint: str
) -> Flow:
    environment = "integration"
    iam = emulator_client("iam", moto_endpoint)
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    roles = [PRODUCER_ROLE] + [
        WORKER_ROLE_TEMPLATE.replace("{worker}", str(n)) for n in range(1, WORKERS + 1)
    ]
    for role in roles:  # made outside the stack, as in prod
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    outdir = tmp_path_factory.mktemp("passwords")
    _synth(outdir, environment, moto_endpoint, queue={})
    # moto's state goes with the module's moto, so nothing is destroyed at the end.
    deployed = _deployed(outdir, environment, terraform_env, moto_endpoint)
    _ok(deployed.terraform("apply", "-auto-approve", "-input=false", "-no-color"))
    first = deployed.passwords()
    _send_task(moto_endpoint, environment)
    second = deployed.terraform("plan", "-detailed-exitcode", "-input=false", "-no-color")
    guard_plan = _ok(deployed.guard())
    # `make rotate-password` is `make deploy` (--apply) with one replacement.
    _ok(deployed.guard("--apply", "--rotate-password", "2"))
    rotated = deployed.passwords()
    given = deployed.given()
    after = deployed.terraform("plan", "-detailed-exitcode", "-input=false", "-no-color")
    _ok(deployed.terraform("show", "-no-color"))
    _ok(deployed.terraform("output", "-no-color"))
    unknown_worker = deployed.guard("--rotate-password", "9")
    # The queue, holding its task, gone from the configuration: the guard refuses.
    _synth(outdir, environment, moto_endpoint, queue=None)
    refused = deployed.guard("--apply")
    # A value the provider rejects at plan: the guard prints the tail of what failed.
    _synth(outdir, environment, moto_endpoint, queue={"delay_seconds": 901})
    failed = deployed.guard()
    return Flow(
        deployed=deployed,
        first=first,
        rotated=rotated,
        given_after_rotation=given,
        second_plan=second.returncode,
        plan_after_rotation=after.returncode,
        guard_plan=guard_plan,
        refused=refused,
        failed=failed,
        unknown_worker=unknown_worker,
    )


def test_one_secure_string_per_user_each_its_own_32_letters_and_digits(flow: Flow) -> None:
    first = flow.first
    assert sorted(first) == sorted(_users("integration").values())
    assert len(set(first.values())) == len(first)
    for value in first.values():
        assert len(value) == PASSWORD_LENGTH and value.isascii() and value.isalnum()


def test_a_second_plan_changes_nothing(flow: Flow) -> None:
    """0: no changes, though the ephemeral generator gave new values at that plan too."""
    assert flow.second_plan == 0
    assert flow.guard_plan.startswith("0 changes to stack integration:")


def test_a_rotation_changes_that_one_password_and_its_user_takes_it(flow: Flow) -> None:
    changed = {user for user in flow.first if flow.first[user] != flow.rotated[user]}
    assert changed == {"ml-queues-integration-worker-2"}
    assert len(flow.rotated["ml-queues-integration-worker-2"]) == PASSWORD_LENGTH
    # In the same apply: what each broker user is given is what SSM holds now.
    assert flow.given_after_rotation == flow.rotated
    assert flow.plan_after_rotation == 0


def test_a_rotation_goes_through_the_guard_and_names_one_parameter(flow: Flow) -> None:
    [(_, printed)] = [
        (what, text) for what, text in flow.deployed.transcript if "--rotate-password 2" in what
    ]
    assert "| aws_ssm_parameter.rabbitmq_worker_2_password | replace |" in printed
    assert "aws_ssm_parameter.rabbitmq_worker_1_password" not in printed
    assert "Apply complete! Resources: 1 added, 0 changed, 1 destroyed." in printed


def test_the_guard_refuses_to_lose_a_task_and_fails_in_one_line_on_an_unknown_worker(
    flow: Flow,
) -> None:
    assert flow.refused.returncode == 4
    assert f"{QUEUE_ADDRESS} (delete, tasks waiting: 1)" in flow.refused.stderr
    assert flow.failed.returncode == 2
    assert "terraform plan failed" in flow.failed.stderr
    assert flow.unknown_worker.returncode == 2
    assert flow.unknown_worker.stderr.strip().splitlines() == [
        "error: WORKER = '9' names no password to rotate: stack integration keeps the"
        " producer's and workers 1 to 3's passwords in SSM; expected WORKER=producer or"
        " WORKER=<n>"
    ]


def test_no_password_is_in_any_output(flow: Flow) -> None:
    """Every value SSM held, before and after the rotation, in none of what was printed."""
    seen = flow.deployed.seen
    assert len(seen) == len(flow.first) + 1
    commands = [what for what, _ in flow.deployed.transcript]
    for wanted in ("apply", "plan", "show", "output", "--rotate-password 2", "--apply"):
        assert any(wanted in what for what in commands), (wanted, commands)
    leaks = [
        (what, secret[:4] + "…")
        for what, text in flow.deployed.transcript
        for secret in seen
        if secret in text
    ]
    assert leaks == []


def test_each_role_may_read_its_own_parameter_only(flow: Flow, moto_endpoint: str) -> None:
    iam = emulator_client("iam", moto_endpoint)
    for id, user in _users("integration").items():
        worker = id.rsplit("_", 1)[1]
        role = (
            PRODUCER_ROLE
            if id == "rabbitmq_producer"
            else WORKER_ROLE_TEMPLATE.replace("{worker}", worker)
        )
        [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
        assert name == f"{user}-rabbitmq-password"
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        parameter = f"/ml-queues/integration/rabbitmq/{user}"
        arn = flow.deployed.ssm.get_parameter(Name=parameter)["Parameter"]["ARN"]
        assert document["Statement"] == [
            {"Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": arn}
        ]


def _old_design(outdir: Path, environment: str, endpoint: str) -> Path:
    """The stack as the data-source generator wrote it (before Terraform 1.11's write-only
    arguments), with the same logical ids: what an environment deployed then holds."""
    app, stack = _stack(outdir, environment, endpoint)
    SqsQueue(stack, "tasks", name=f"{environment}-tasks")
    for id, user in _users(environment).items():
        logical_id = f"{id}_password"
        stack.add_override(
            f"data.aws_secretsmanager_random_password.{logical_id}",
            {"password_length": PASSWORD_LENGTH, "exclude_punctuation": True},
        )
        stack.add_override(
            f"resource.aws_ssm_parameter.{logical_id}",
            {
                "name": f"/ml-queues/{environment}/rabbitmq/{user}",
                "type": "SecureString",
                "tier": "Standard",
                "value": f"${{data.aws_secretsmanager_random_password.{logical_id}"
                ".random_password}",
                "description": f"RabbitMQ password ({user}), generated once and kept: to"
                f" rotate it, terraform apply -replace=aws_ssm_parameter.{logical_id}",
                "lifecycle": {"ignore_changes": ["value"]},
            },
        )
        TerraformOutput(
            stack, id, value=f"${{aws_ssm_parameter.{logical_id}.value}}", sensitive=True
        )
    app.synth()
    return outdir / "stacks" / environment


def test_a_stack_deployed_with_the_old_generator_moves_over_keeping_its_passwords(
    tmp_path_factory: pytest.TempPathFactory, terraform_env: dict[str, str], moto_endpoint: str
) -> None:
    """The migration: the guard passes, nothing that holds tasks is replaced, every broker
    user keeps the password it had, and a plan afterwards changes nothing."""
    environment = "migration"
    outdir = tmp_path_factory.mktemp("migration")
    _old_design(outdir, environment, moto_endpoint)
    deployed = _deployed(outdir, environment, terraform_env, moto_endpoint)
    _ok(deployed.terraform("apply", "-auto-approve", "-input=false", "-no-color"))
    before = deployed.passwords()
    _send_task(moto_endpoint, environment)
    _synth(outdir, environment, moto_endpoint, queue={}, roles=False)
    # `make deploy`: the guard prints its table, then applies that plan.
    planned = _ok(deployed.guard("--apply"))
    assert deployed.passwords() == before
    assert deployed.given() == before
    again = deployed.terraform("plan", "-detailed-exitcode", "-input=false", "-no-color")
    assert again.returncode == 0, again.stdout[-4000:]
    rows = [line for line in planned.splitlines() if line.startswith("| aws_")]
    # The parameters' descriptions now name the guarded rotation: updated in place.
    assert sorted(rows) == sorted(
        f"| aws_ssm_parameter.{id}_password | update |  |  |" for id in _users(environment)
    )
    assert QUEUE_ADDRESS not in planned
    # The old generator printed each password as its id; from the move on, nothing does.
    init_and_old_apply = deployed.transcript[:2]
    assert all(secret in init_and_old_apply[1][1] for secret in before.values())
    after_move = [text for _, text in deployed.transcript[2:]]
    assert not [secret for secret in before.values() for text in after_move if secret in text]
