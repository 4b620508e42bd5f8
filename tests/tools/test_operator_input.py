"""Credentials are asked for before Terraform starts, in one line that says what to set.

Each cloud's check runs against a machine with nothing configured: no variables, no ~/.aws
or gcloud files (pointed at an empty folder), no instance metadata service to ask.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools import operator_input
from tools.operator_input import (
    AWS_READS,
    GOOGLE_READS,
    OperatorError,
    aws_check,
    check_credentials,
    credential_checks,
    google_check,
)

AWS_PROVIDER = {"region": "us-east-1"}
# Every cloud there is, as prod has them: state in S3, all three providers.
PROD: dict[str, Any] = {
    "terraform": {"backend": {"s3": {"bucket": "b", "key": "k", "region": "us-east-1"}}},
    "provider": {"aws": [AWS_PROVIDER], "google": [{"project": "p"}], "rabbitmq": [{}]},
}
# As `local` has it: the AWS provider points at moto, state in a file.
LOCAL: dict[str, Any] = {
    "terraform": {"backend": {"local": {"path": "terraform.local.tfstate"}}},
    "provider": {"aws": [{**AWS_PROVIDER, "endpoints": [{"sqs": "http://127.0.0.1:4566"}]}]},
}


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A process environment with no credentials anywhere the checks look."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CREDENTIALS",
        "RABBITMQ_ENDPOINT",
        "RABBITMQ_USERNAME",
        "RABBITMQ_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    # Google's library asks the GCE metadata server last; nothing answers here.
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    return {}


def test_without_any_credentials_one_line_names_what_each_cloud_reads(
    bare: dict[str, str],
) -> None:
    with pytest.raises(OperatorError) as error:
        check_credentials(PROD, bare, "prod")
    assert str(error.value) == (
        "no credentials for stack prod: AWS reads AWS_PROFILE, or AWS_ACCESS_KEY_ID and"
        " AWS_SECRET_ACCESS_KEY, or ~/.aws's default profile (`aws configure`, or `aws sso login"
        " --profile <name>` then `export AWS_PROFILE=<name>`); Google reads"
        " GOOGLE_APPLICATION_CREDENTIALS or gcloud's application default credentials (`gcloud"
        " auth application-default login`); RabbitMQ reads RABBITMQ_ENDPOINT, RABBITMQ_USERNAME"
        " and RABBITMQ_PASSWORD, which are not set (export them; the password from your secret"
        " store)"
    )


def test_an_emulated_stack_needs_no_cloud_credentials(bare: dict[str, str]) -> None:
    assert credential_checks(LOCAL) == []
    check_credentials(LOCAL, bare, "local")


def test_state_in_s3_needs_aws_even_without_an_aws_provider() -> None:
    stack = {"terraform": {"backend": {"s3": {}}}, "provider": {"rabbitmq": [{}]}}
    assert credential_checks(stack)[0] is aws_check
    assert credential_checks({"terraform": {"backend": {"gcs": {}}}}) == [google_check]


def test_reading_outputs_needs_only_the_state_s_cloud() -> None:
    """`make worker-env` reads the state, not the clouds the providers talk to."""
    assert credential_checks(PROD, state_only=True) == [aws_check]
    assert credential_checks(LOCAL, state_only=True) == []


def test_aws_keys_or_a_known_profile_are_credentials(bare: dict[str, str], tmp_path: Path) -> None:
    assert aws_check(bare) == AWS_READS
    assert aws_check({"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}) is None
    (tmp_path / "aws-credentials").write_text(
        "[ml-dev]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = x\n"
    )
    assert aws_check({"AWS_PROFILE": "ml-dev"}) is None


def test_a_profile_that_does_not_exist_is_named(bare: dict[str, str]) -> None:
    assert aws_check({"AWS_PROFILE": "ml-dve"}) == (
        "AWS_PROFILE = 'ml-dve' names no profile in ~/.aws/config or ~/.aws/credentials"
        " (`aws configure --profile ml-dve`, or `aws configure sso`)"
    )


def test_google_reads_the_provider_s_variables_and_application_default_credentials(
    bare: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert google_check(bare) == GOOGLE_READS
    assert google_check({"GOOGLE_OAUTH_ACCESS_TOKEN": "t"}) is None
    adc = tmp_path / "gcloud" / "application_default_credentials.json"
    adc.parent.mkdir()
    adc.write_text(
        '{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}'
    )
    assert google_check(bare) is None


def test_rabbitmq_needs_no_endpoint_variable_when_the_config_names_one(
    bare: dict[str, str],
) -> None:
    stack = {"provider": {"rabbitmq": [{"endpoint": "https://rabbitmq.example.com:15672"}]}}
    [check] = credential_checks(stack)
    assert check({"RABBITMQ_USERNAME": "deployer"}) == (
        "RabbitMQ reads RABBITMQ_PASSWORD, which is not set (export it; the password from"
        " your secret store)"
    )
    assert check({"RABBITMQ_USERNAME": "deployer", "RABBITMQ_PASSWORD": "p"}) is None


def test_a_backend_s_part_is_found_where_the_environment_keeps_it(synth_dir: Path) -> None:
    """dev deploys RabbitMQ through Terraform; local loads it into a node (`deploy`)."""
    dev = synth_dir / "stacks" / "dev"
    assert operator_input.part_holding(dev, "rabbitmq")[0] == dev
    local = synth_dir / "stacks" / "local"
    emulated = synth_dir / "emulated" / "stacks" / "local"
    assert operator_input.emulated_part(local) == emulated
    assert operator_input.part_holding(local, "rabbitmq")[0] == emulated
    assert operator_input.part_holding(local, "pubsub")[0] == emulated
    assert operator_input.part_holding(local, "sqs")[0] == local
    # Neither holds it: the stack, for the command to say what is missing.
    assert operator_input.part_holding(local.parent / "staging", "sqs")[0].name == "staging"


def test_the_whole_environment_is_both_parts_merged(
    synth_dir: Path, stack_json: dict[str, dict[str, Any]]
) -> None:
    local = operator_input.whole_environment(synth_dir / "stacks" / "local")
    kinds = {kind.split("_")[0] for kind in local["resource"]}
    assert kinds == {"aws", "google", "rabbitmq"}
    assert local["resource"]["aws_sqs_queue"] == stack_json["local"]["resource"]["aws_sqs_queue"]
    assert "google_project" in local["data"]
    # An environment without an emulated part is its stack.
    assert operator_input.whole_environment(synth_dir / "stacks" / "dev") == stack_json["dev"]
