"""Helpers shared by the integration tests: requiring real components, finding ports."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

SKIP_VARIABLE = "ML_QUEUES_SKIP_INTEGRATION"
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
# Said with every failed provider install: offline, the registry is what is missing.
PROVIDER_HINT = (
    "\nIf Terraform could not install the AWS provider: without registry access, set"
    " TF_PLUGIN_MIRROR to a folder holding registry.terraform.io/hashicorp/aws"
    " (made with `terraform providers mirror DIR` on a machine that has access)."
)


# moto accepts any credentials; these are its documented test values, set only here.
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def emulator_client(service: str, endpoint: str) -> Any:
    """A boto3 client for `service` on the emulator at `endpoint`, with its test credentials."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=EMULATOR_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def require(available: bool, what: str, how: str) -> None:
    """Fail (or, when explicitly opted out, skip) unless a real component is available."""
    if available:
        return
    message = f"{what} is not available: {how}"
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{message} (skipped because {SKIP_VARIABLE}=1)")
    pytest.fail(message, pytrace=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def run(
    command: list[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion with its output captured; the caller judges the exit code."""
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
