from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cdktf import TerraformOutput, TerraformStack

from constructs_lib.limits import LimitError
from constructs_lib.rabbitmq.passwords import RabbitMqPasswords
from constructs_lib.rabbitmq.props import RabbitMqPasswordsProps
from tests.synth_helpers import resources, synth

SSM: dict[str, Any] = {"password_store": "ssm", "password_region": "us-east-1"}
ROLES: dict[str, Any] = {
    "producer": "ml-producer",
    "worker_template": "ml-worker-{worker}",
}


def passwords_of(
    stack: TerraformStack, *, workers: int = 3, **settings: Any
) -> tuple[RabbitMqPasswords, dict[str, str]]:
    """The construct and, by user name, the password reference it gave each user, which a
    sensitive output stands in for the `rabbitmq_user` that would take it."""
    passwords = RabbitMqPasswords(stack, "passwords", RabbitMqPasswordsProps(**settings))
    given = {"mq-producer": passwords.password("rabbitmq_producer", "mq-producer")}
    for n in range(1, workers + 1):
        given[f"mq-worker-{n}"] = passwords.password(
            f"rabbitmq_worker_{n}", f"mq-worker-{n}", worker=n
        )
    for user, password in given.items():
        TerraformOutput(stack, f"{user}_password", value=password, sensitive=True)
    return passwords, given


def _outputs(synthesized: dict[str, Any]) -> dict[str, Any]:
    return {name: body["value"] for name, body in synthesized["output"].items()}


def test_ssm_one_secure_string_per_user_named_by_environment_and_user(
    stack: TerraformStack,
) -> None:
    passwords_of(stack, **SSM)
    synthesized = synth(stack)
    parameters = synthesized["resource"]["aws_ssm_parameter"]
    assert {body["name"] for body in parameters.values()} == {
        "/ml-queues/test/rabbitmq/mq-producer",
        *(f"/ml-queues/test/rabbitmq/mq-worker-{n}" for n in (1, 2, 3)),
    }
    for logical_id, body in parameters.items():
        assert (body["type"], body["tier"]) == ("SecureString", "Standard")
        # Written once, through the write-only argument: neither the value the generator
        # gives at every plan nor the version may change it afterwards.
        assert body["lifecycle"] == {"ignore_changes": ["value", "value_wo_version"]}
        assert "value" not in body
        assert body["value_wo"] == (
            f"${{ephemeral.aws_secretsmanager_random_password.{logical_id}.random_password}}"
        )
        assert body["value_wo_version"] == 1
        assert "make rotate-password ENV=test WORKER=" in body["description"]
        assert "key_id" not in body  # the AWS managed key alias/aws/ssm
    # Ephemeral: never in the plan or the state, and printed by no Terraform command.
    generated = synthesized["ephemeral"]["aws_secretsmanager_random_password"]
    assert "aws_secretsmanager_random_password" not in synthesized.get("data", {})
    assert sorted(generated) == sorted(parameters)
    for body in generated.values():
        assert body == {"password_length": 32, "exclude_punctuation": True}
    # Read back for the broker users, by name: the data source's id is not the secret.
    stored = synthesized["data"]["aws_ssm_parameter"]
    assert sorted(stored) == sorted(parameters)
    for logical_id, body in stored.items():
        assert body["name"] == f"${{aws_ssm_parameter.{logical_id}.name}}"
        assert body["with_decryption"] is True


def test_ssm_rotation_names_the_user_in_the_description(stack: TerraformStack) -> None:
    passwords_of(stack, **SSM)
    parameters = synth(stack)["resource"]["aws_ssm_parameter"]
    assert parameters["rabbitmq_producer_password"]["description"].endswith(
        "make rotate-password ENV=test WORKER=producer"
    )
    assert parameters["rabbitmq_worker_2_password"]["description"].endswith(
        "make rotate-password ENV=test WORKER=2"
    )


def test_ssm_addresses_are_short_enough_to_type_for_a_rotation(stack: TerraformStack) -> None:
    passwords_of(stack, **SSM, **ROLES)
    synthesized = synth(stack)
    assert sorted(synthesized["resource"]["aws_ssm_parameter"]) == [
        "rabbitmq_producer_password",
        *(f"rabbitmq_worker_{n}_password" for n in (1, 2, 3)),
    ]
    assert sorted(synthesized["resource"]["aws_iam_role_policy"]) == [
        "rabbitmq_producer_password_grant",
        *(f"rabbitmq_worker_{n}_password_grant" for n in (1, 2, 3)),
    ]


def test_ssm_each_user_takes_its_own_parameter_s_value_never_the_generator(
    stack: TerraformStack,
) -> None:
    passwords_of(stack, **SSM)
    outputs = _outputs(synth(stack))
    assert outputs["mq-producer_password"] == (
        "${data.aws_ssm_parameter.rabbitmq_producer_password.value}"
    )
    for n in (1, 2, 3):
        assert outputs[f"mq-worker-{n}_password"] == (
            f"${{data.aws_ssm_parameter.rabbitmq_worker_{n}_password.value}}"
        )


def test_ssm_each_worker_role_may_read_its_own_parameter_only(stack: TerraformStack) -> None:
    passwords_of(stack, **SSM, **ROLES)
    synthesized = synth(stack)
    policies = {body["role"]: body for body in resources(synthesized, "aws_iam_role_policy")}
    assert sorted(policies) == ["ml-producer", "ml-worker-1", "ml-worker-2", "ml-worker-3"]
    for role, user, logical_id in [
        ("ml-producer", "mq-producer", "rabbitmq_producer_password"),
        *((f"ml-worker-{n}", f"mq-worker-{n}", f"rabbitmq_worker_{n}_password") for n in (1, 2, 3)),
    ]:
        policy = policies[role]
        # Apart from the SQS policies (`<queue>-producer`, `<queue>-worker-<n>-consumer`).
        assert policy["name"] == f"{user}-rabbitmq-password"
        assert re.findall(r"aws_ssm_parameter\.(\w+)\.(\w+)", policy["policy"]) == [
            (logical_id, "arn")
        ]
        assert '\\"Action\\" = [\\"ssm:GetParameter\\"]' in json.dumps(policy["policy"])


def test_ssm_without_roles_grants_nothing(stack: TerraformStack) -> None:
    passwords_of(stack, **SSM)
    assert resources(synth(stack), "aws_iam_role_policy") == []


def test_ssm_names_the_parameters_for_the_outputs_and_the_wiring(stack: TerraformStack) -> None:
    passwords, _ = passwords_of(stack, workers=2, **SSM)
    TerraformOutput(stack, "names", value=passwords.parameter_names)
    TerraformOutput(stack, "worker_2", value=passwords.parameter_name(2))
    outputs = _outputs(synth(stack))
    assert outputs["names"] == [
        "${aws_ssm_parameter.rabbitmq_producer_password.name}",
        "${aws_ssm_parameter.rabbitmq_worker_1_password.name}",
        "${aws_ssm_parameter.rabbitmq_worker_2_password.name}",
    ]
    assert outputs["worker_2"] == "${aws_ssm_parameter.rabbitmq_worker_2_password.name}"


def test_no_password_is_in_the_json(stack: TerraformStack) -> None:
    """Only references: the generated values exist in SSM, and in state as the broker users'
    and the read-back's, alone."""
    passwords_of(stack, **SSM, **ROLES)
    synthesized = synth(stack)
    parameters = synthesized["resource"]["aws_ssm_parameter"].values()
    values = [body["value_wo"] for body in parameters] + list(_outputs(synthesized).values())
    assert len(values) == 8
    assert all(re.fullmatch(r"\$\{[\w.]+\}", value) for value in values), values
    assert "insecure_value" not in json.dumps(synthesized)


def test_variables_one_sensitive_variable_per_user_as_before(stack: TerraformStack) -> None:
    passwords, _ = passwords_of(stack, workers=2)
    synthesized = synth(stack)
    assert synthesized["variable"] == {
        "rabbitmq_producer_password": {
            "type": "string",
            "sensitive": True,
            "nullable": False,
            "description": "RabbitMQ password of the producer; set"
            " TF_VAR_rabbitmq_producer_password",
        },
        **{
            f"rabbitmq_worker_{n}_password": {
                "type": "string",
                "sensitive": True,
                "nullable": False,
                "description": f"RabbitMQ password of worker {n}; set"
                f" TF_VAR_rabbitmq_worker_{n}_password",
            }
            for n in (1, 2)
        },
    }
    assert _outputs(synthesized)["mq-worker-2_password"] == "${var.rabbitmq_worker_2_password}"
    assert "resource" not in synthesized and "data" not in synthesized
    assert (passwords.parameter_names, passwords.parameter_name(1)) == ([], None)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"password_store": "ssm"},
            "test/passwords: RabbitMqPasswords.password_region is unset; expected an AWS"
            " region code such as 'eu-west-1' with password_store = 'ssm': the region of the"
            " password parameters",
        ),
        (
            {"worker_template": "ml-worker-{worker}"},
            "test/passwords: RabbitMqPasswords.worker_template = 'ml-worker-{worker}'"
            " is not allowed; expected it unset unless password_store = 'ssm': a password in"
            " a Terraform variable has nothing a role could be granted",
        ),
        (
            {**SSM, "producer": "ml producer"},
            "test/passwords: RabbitMqPasswords.producer = 'ml producer' is not"
            " allowed; expected an IAM role name",
        ),
    ],
)
def test_props_made_by_hand_are_held_to_the_same_rules(
    stack: TerraformStack, settings: dict[str, str], expected: str
) -> None:
    with pytest.raises(LimitError) as error:
        RabbitMqPasswords(stack, "passwords", RabbitMqPasswordsProps(**settings))
    assert str(error.value).startswith(expected)
