"""The bad input people type at the operator commands, through `make`, as they type it.

Each answer is one line that says what to do, with a non-zero exit and no traceback (the
config loader's tests walk bad configs the same way). Besides that line, stderr holds only
make's own `make: *** [...] Error N`, and nothing comes before it: no banner, warning or
spinner. The run environment has no AWS credentials, as on a fresh laptop: `make plan
ENV=local` must find moto's by itself.

The commands run in a second checkout of the project, at another path, whose `local`
environment points at this module's own moto: they write its cdktf.out and state, so CI's own
`make synth` or `make deploy-local` may run on the project meanwhile.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.harness import PROJECT_ROOT, point_local_at, run, second_checkout

ENVIRONMENTS = "expected one of dev, local, prod, staging"


# What an outer make (`make test-integration`) passes down: without them the command runs
# as typed at a prompt, and make's own line reads `make: ***`, not `make[1]: ***`.
# `pipenv run` puts the project's virtualenv first on PATH; a prompt has the machine's Python.
_OUTER_MAKE = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES", "VIRTUAL_ENV", "PIPENV_ACTIVE")


# What the test process itself set up for jsii (tests/conftest.py), which a prompt has not.
_OWN = ("JSII_NODE", "NODE_OPTIONS", "CI")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Path:
    """The second checkout the module's commands run in, its `local` on the module's moto."""
    root = second_checkout(tmp_path_factory.mktemp("operator") / "ml-queues")
    point_local_at(root, moto_endpoint)
    return root


def _make(cwd: Path, /, *arguments: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in _OUTER_MAKE and k not in _OWN
    }
    venv = str(PROJECT_ROOT / ".venv")
    env["PATH"] = os.pathsep.join(
        part for part in env["PATH"].split(os.pathsep) if not part.startswith(venv)
    )
    return run(
        ["make", "--no-print-directory", *arguments],
        cwd=cwd,
        env={**env, **variables},
        timeout=900,
    )


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A second checkout of its own for a test that breaks its config."""
    return second_checkout(tmp_path / "clone")


def _synth(clone: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """`make synth` in the clone, which installs nothing there (this checkout's .venv and
    node_modules are the installed ones; -o: never remade)."""
    return _make(
        clone,
        "synth",
        "-o",
        ".venv/.installed-from-lock",
        "-o",
        "node_modules/.installed-node-from-lock",
        **variables,
    )


def _answer(result: subprocess.CompletedProcess[str], *, code: int = 2) -> list[str]:
    """What the command said on stderr, less make's own line, which must name the command's
    exit `code` (make itself then exits 2)."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("make: *** [") and lines[-1].endswith(f"Error {code}"), lines
    return lines[:-1]


@pytest.mark.parametrize(
    "arguments",
    [
        ("plan", "ENV=dve"),
        ("deploy", "ENV=dve"),
        ("rotate-password", "ENV=dve", "WORKER=2"),
        ("worker-env", "ENV=dve", "WORKER=2"),
        ("rabbitmq-definitions", "ENV=dve"),
        ("rabbitmq-alerts", "ENV=dve"),
        ("pubsub-emulator", "ENV=dve", "WORKER=2"),
    ],
)
def test_an_unknown_env_lists_the_environments_there_are(
    checkout: Path, arguments: tuple[str, ...]
) -> None:
    # The emulator loader asks for its emulator first; none need answer to check ENV.
    result = _make(checkout, *arguments, PUBSUB_EMULATOR_HOST="127.0.0.1:9")
    assert _answer(result) == [f"error: ENV = 'dve' names no environment; {ENVIRONMENTS}"]


@pytest.mark.parametrize(
    ("target", "worker"),
    [
        ("worker-env", "two"),
        ("worker-env", "0"),
        ("worker-env", "4"),
        ("worker-env", ""),
        ("pubsub-emulator", "4"),
    ],
)
def test_a_worker_that_is_not_one_of_the_environment_s(
    checkout: Path, target: str, worker: str
) -> None:
    result = _make(
        checkout, target, "ENV=dev", f"WORKER={worker}", PUBSUB_EMULATOR_HOST="127.0.0.1:9"
    )
    assert _answer(result) == [
        f"error: WORKER = {worker!r} is not a worker of dev; expected producer or a number"
        " from 1 to 3"
    ]


def test_alerts_for_an_environment_without_rabbitmq_are_refused(clone: Path) -> None:
    """local, with its RabbitMQ part switched off in the clone's config."""
    config = clone / "config" / "local.toml"
    text = config.read_text()
    config.write_text(text.replace("[rabbitmq]\nenabled = true", "[rabbitmq]\nenabled = false"))
    assert config.read_text() != text
    result = _make(clone, "rabbitmq-alerts", "ENV=local")
    assert _answer(result) == [
        "error: ENV = 'local' has no RabbitMQ part ([rabbitmq] enabled = false in"
        " config/local.toml), so there is nothing to alert on"
    ]


def test_a_rotation_names_whose_password(checkout: Path) -> None:
    unnamed = _make(checkout, "rotate-password", "ENV=dev")
    assert _answer(unnamed) == [
        "error: say whose password to rotate: make rotate-password ENV=dev WORKER=<n> or"
        " WORKER=producer"
    ]
    unknown = _make(checkout, "rotate-password", "ENV=dev", "WORKER=9")
    assert _answer(unknown) == [
        "error: WORKER = '9' names no password to rotate: stack dev keeps the producer's and"
        " workers 1 to 3's passwords in SSM; expected WORKER=producer or WORKER=<n>"
    ]


def test_a_stack_not_deployed_points_to_the_guarded_deploy(checkout: Path) -> None:
    """dev is never deployed here: its state file does not exist."""
    result = _make(checkout, "worker-env", "ENV=dev", "WORKER=2")
    [line] = _answer(result, code=3)
    assert line.startswith("error: stack dev is not deployed (no state at ")
    assert line.endswith("deploy it first: `make deploy ENV=dev`")


def test_stop_local_without_a_moto_started_says_so(checkout: Path) -> None:
    result = _make(checkout, "stop-local")
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "moto was not started by `make deploy-local`"


def test_the_local_plan_uses_moto_s_credentials_and_an_allowed_typo_is_refused(
    checkout: Path,
) -> None:
    """No AWS variable set: the plan of `local` reaches moto with its test credentials (it
    prints the table), and an ALLOW_TASK_LOSS address that the plan does not change is an
    error rather than silence."""
    result = _make(
        checkout, "plan", "ENV=local", ALLOW_TASK_LOSS="aws_sqs_queue.sqs_worker_9_queue"
    )
    assert " changes to stack local:" in result.stdout
    assert _answer(result) == [
        "error: ALLOW_TASK_LOSS names aws_sqs_queue.sqs_worker_9_queue, which this plan does"
        " not change; name addresses from the table above, or leave it unset"
    ]


@pytest.mark.parametrize("ci", [{}, {"CI": "true"}])
def test_synth_says_what_it_wrote_and_nothing_else(clone: Path, ci: dict[str, str]) -> None:
    """No jsii banner, no Node or cdktf warning, no spinner: the answer is the one line."""
    result = _synth(clone, **ci)
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == (
        "wrote cdktf.out/stacks/<env>/cdk.tf.json for dev, local, prod, staging\n",
        "",
    )


@pytest.mark.parametrize("ci", [{}, {"CI": "true"}])
def test_a_bad_config_through_synth_is_its_one_line_once(clone: Path, ci: dict[str, str]) -> None:
    dev = clone / "config" / "dev.toml"
    dev.write_text(dev.read_text().replace("workers = 3", "worker = 3"))
    result = _synth(clone, **ci)
    assert result.stdout == ""
    assert _answer(result) == [
        "error: config/dev.toml: worker is not a known setting; did you mean workers?"
    ]
    assert not (clone / "cdktf.out").exists()


def test_an_unknown_env_is_refused_before_anything_is_installed_or_synthesized(
    clone: Path,
) -> None:
    result = _make(clone, "plan", "ENV=prd")
    assert result.stdout == ""
    assert _answer(result) == [f"error: ENV = 'prd' names no environment; {ENVIRONMENTS}"]
    assert not (clone / "cdktf.out").exists()


def _no_credentials(tmp_path: Path) -> dict[str, str]:
    """Nothing holds credentials: no ~/.aws or gcloud files, and no metadata service
    answers (on a cloud VM with an instance role one would, and rightly)."""
    return {
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "GCE_METADATA_HOST": "127.0.0.1:9",
        "GCE_METADATA_IP": "127.0.0.1:9",
        "GOOGLE_APPLICATION_CREDENTIALS": "",
        "RABBITMQ_ENDPOINT": "",
        "RABBITMQ_USERNAME": "",
        "RABBITMQ_PASSWORD": "",
    }


AWS_READS = (
    "AWS reads AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ~/.aws's default"
    " profile (`aws configure`, or `aws sso login --profile <name>` then"
    " `export AWS_PROFILE=<name>`)"
)


def test_a_plan_without_credentials_names_what_each_cloud_reads(
    checkout: Path, tmp_path: Path
) -> None:
    """prod keeps its state in S3 and has all three providers."""
    result = _make(checkout, "plan", "ENV=prod", **_no_credentials(tmp_path))
    assert result.stdout == ""
    assert _answer(result) == [
        f"error: no credentials for stack prod: {AWS_READS}; Google reads"
        " GOOGLE_APPLICATION_CREDENTIALS or gcloud's application default credentials (`gcloud"
        " auth application-default login`); RabbitMQ reads RABBITMQ_ENDPOINT, RABBITMQ_USERNAME"
        " and RABBITMQ_PASSWORD, which are not set (export them; the password from your secret"
        " store)"
    ]


def test_worker_env_of_a_stack_with_state_in_s3_asks_for_aws_only(
    checkout: Path, tmp_path: Path
) -> None:
    result = _make(checkout, "worker-env", "ENV=prod", "WORKER=2", **_no_credentials(tmp_path))
    assert result.stdout == ""
    assert _answer(result) == [f"error: no credentials for stack prod: {AWS_READS}"]
