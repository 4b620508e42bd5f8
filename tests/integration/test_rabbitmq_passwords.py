"""RabbitMQ passwords generated into SSM by a real `terraform apply`, against moto.

The rabbitmq provider cannot be installed here, so a sensitive output per user stands in for
the `rabbitmq_user` that takes the same reference: the stack is the passwords construct, its
AWS provider pointed at moto for SSM, Secrets Manager (the generator) and IAM (the grants).
What matters is checked on the real engines: one SecureString per user, each distinct, a
second plan changing nothing although the generator yields new values every plan, and the
documented rotation replacing one password only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cdktf import App, LocalBackend, TerraformOutput, TerraformStack

from constructs_lib.providers import AwsProvider, AwsProviderEndpoints
from constructs_lib.rabbitmq_passwords import (
    PASSWORD_LENGTH,
    RabbitMqPasswords,
    RabbitMqPasswordsProps,
)
from tests.integration.harness import (
    PROVIDER_HINT,
    emulator_client,
    run,
)
from tools.moto_server import EMULATOR_CREDENTIALS

ENVIRONMENT = "integration"
WORKERS = 3
PREFIX = f"/ml-queues/{ENVIRONMENT}/rabbitmq"
PRODUCER_ROLE = "ml-it-producer"
WORKER_ROLE_TEMPLATE = "ml-it-worker-{worker}"
# Logical id in the stack -> broker user.
USERS = {
    "rabbitmq_producer": "ml-queues-it-producer",
    **{f"rabbitmq_worker_{n}": f"ml-queues-it-worker-{n}" for n in range(1, WORKERS + 1)},
}


@dataclass
class Applied:
    stack_dir: Path
    env: dict[str, str]
    ssm: Any  # boto3 SSM client against moto
    iam: Any  # boto3 IAM client against moto

    def terraform(self, *args: str) -> Any:
        return run(["terraform", *args], cwd=self.stack_dir, env=self.env, timeout=600)

    def passwords(self) -> dict[str, str]:
        """Each user's password as SSM holds it, by user name."""
        found = self.ssm.get_parameters_by_path(Path=PREFIX, WithDecryption=True)["Parameters"]
        return {item["Name"].rsplit("/", 1)[1]: item["Value"] for item in found}


def _synth(outdir: Path, endpoint: str) -> Path:
    app = App(outdir=str(outdir))
    stack = TerraformStack(app, ENVIRONMENT)
    LocalBackend(stack, path="terraform.tfstate")
    AwsProvider(
        stack,
        "aws",
        region=EMULATOR_CREDENTIALS["AWS_DEFAULT_REGION"],
        endpoints=[AwsProviderEndpoints(ssm=endpoint, secretsmanager=endpoint, iam=endpoint)],
        skip_credentials_validation=True,
        skip_requesting_account_id=True,
        skip_metadata_api_check="true",
    )
    props = RabbitMqPasswordsProps(
        password_store="ssm",
        password_region=EMULATOR_CREDENTIALS["AWS_DEFAULT_REGION"],
        producer_role=PRODUCER_ROLE,
        worker_role_template=WORKER_ROLE_TEMPLATE,
    )
    passwords = RabbitMqPasswords(stack, "rabbitmq_passwords", props)
    for id, user in USERS.items():
        worker = None if id == "rabbitmq_producer" else int(id.rsplit("_", 1)[1])
        password = passwords.password(id, user, worker=worker)
        TerraformOutput(stack, id, value=password, sensitive=True)
    app.synth()
    return outdir / "stacks" / ENVIRONMENT


@pytest.fixture(scope="module")
def applied(
    tmp_path_factory: pytest.TempPathFactory, terraform_env: dict[str, str], moto_endpoint: str
) -> Iterator[Applied]:
    iam = emulator_client("iam", moto_endpoint)
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    roles = [PRODUCER_ROLE] + [
        WORKER_ROLE_TEMPLATE.replace("{worker}", str(n)) for n in range(1, WORKERS + 1)
    ]
    for role in roles:  # made outside the stack, as in prod
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    stack_dir = _synth(tmp_path_factory.mktemp("passwords"), moto_endpoint)
    deployed = Applied(
        stack_dir=stack_dir,
        env={**terraform_env, **EMULATOR_CREDENTIALS},
        ssm=emulator_client("ssm", moto_endpoint),
        iam=iam,
    )
    init = deployed.terraform("init", "-input=false", "-no-color")
    assert init.returncode == 0, init.stdout + init.stderr + PROVIDER_HINT
    apply = deployed.terraform("apply", "-auto-approve", "-input=false", "-no-color")
    assert apply.returncode == 0, apply.stdout[-4000:] + apply.stderr[-4000:]
    try:
        yield deployed
    finally:
        deployed.terraform("destroy", "-auto-approve", "-input=false", "-no-color")


def test_one_secure_string_per_user_each_its_own_32_letters_and_digits(
    applied: Applied,
) -> None:
    found = applied.ssm.get_parameters_by_path(Path=PREFIX, WithDecryption=True)["Parameters"]
    assert sorted(item["Name"] for item in found) == sorted(
        f"{PREFIX}/{user}" for user in USERS.values()
    )
    assert {item["Type"] for item in found} == {"SecureString"}
    values = [item["Value"] for item in found]
    assert len(set(values)) == len(values)
    for value in values:
        assert len(value) == PASSWORD_LENGTH and value.isascii() and value.isalnum()


def test_each_user_is_given_its_parameter_s_value(applied: Applied) -> None:
    """What `rabbitmq_user.password` would be set to is what SSM holds for that user."""
    result = applied.terraform("output", "-json")
    assert result.returncode == 0, result.stderr
    outputs = {name: body["value"] for name, body in json.loads(result.stdout).items()}
    stored = applied.passwords()
    assert {USERS[id]: value for id, value in outputs.items()} == stored


def test_each_role_may_read_its_own_parameter_only(applied: Applied) -> None:
    for id, user in USERS.items():
        role = (
            PRODUCER_ROLE
            if id == "rabbitmq_producer"
            else WORKER_ROLE_TEMPLATE.replace("{worker}", id.rsplit("_", 1)[1])
        )
        [name] = applied.iam.list_role_policies(RoleName=role)["PolicyNames"]
        assert name == f"{user}-rabbitmq-password"
        document = applied.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        arn = applied.ssm.get_parameter(Name=f"{PREFIX}/{user}")["Parameter"]["ARN"]
        assert document["Statement"] == [
            {"Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": arn}
        ]


def _plan_changes_nothing(applied: Applied) -> None:
    plan = applied.terraform("plan", "-detailed-exitcode", "-input=false", "-no-color")
    # 0: no changes; 2 would be a new password, the generator's value taken after all.
    assert plan.returncode == 0, plan.stdout[-4000:] + plan.stderr[-4000:]


def test_a_second_plan_changes_nothing(applied: Applied) -> None:
    before = applied.passwords()
    _plan_changes_nothing(applied)
    assert applied.passwords() == before


def test_replacing_one_parameter_rotates_that_password_only(applied: Applied) -> None:
    """The rotation the README documents: `terraform apply -replace=<parameter>`."""
    before = applied.passwords()
    rotate = applied.terraform(
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-replace=aws_ssm_parameter.rabbitmq_worker_2_password",
    )
    assert rotate.returncode == 0, rotate.stdout[-4000:] + rotate.stderr[-4000:]
    after = applied.passwords()
    rotated = {user for user in before if before[user] != after[user]}
    assert rotated == {"ml-queues-it-worker-2"}
    assert len(after["ml-queues-it-worker-2"]) == PASSWORD_LENGTH
    _plan_changes_nothing(applied)
