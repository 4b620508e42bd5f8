"""The README's `## Run a worker locally` section, run as written, on real engines.

Its shell commands are taken from the README and run one by one, as a person pastes them,
in a second checkout of the project at another path (this checkout's .venv and
node_modules linked in), through `make` with no AWS variable set: `make local-up` starts
moto, Google's Pub/Sub emulator and a RabbitMQ node and loads `local` into them, the example
producer sends a task to worker 2 on each backend, worker 2 takes each, and `make local-down`
stops exactly what was started. What the commands print besides make's own output must be
the lines the README shows, and no password `make local-up` generated may appear in
anything they print.

The one change to that checkout: config/local.toml's moto endpoint names a free port rather
than 4566, so that the walkthrough runs beside anything else on the machine that holds 4566
(CI's `make deploy-local`, another checkout's tests); `make local-up` starts moto where the
config says.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.harness import PROJECT_ROOT, point_local_at, require, run, second_checkout
from tests.integration.pubsub_emulator import require_emulator
from tools import moto_server, processes
from tools.rabbitmq_node import INSTALL_HINT, find_script

SECTION = "## Run a worker locally"
# What an outer make (`make test-integration`) passes down, and what the test process set
# up for jsii: a person's prompt has none of them.
_NOT_AT_A_PROMPT = (
    "MAKEFLAGS",
    "MAKELEVEL",
    "MFLAGS",
    "MAKEOVERRIDES",
    "VIRTUAL_ENV",
    "PIPENV_ACTIVE",
    "JSII_NODE",
    "NODE_OPTIONS",
    "CI",
)


def _section() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"\n{SECTION}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def _blocks() -> tuple[list[str], str]:
    """The section's commands (its first `sh` block, one per line) and the output it shows
    (the plain block after it)."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", _section(), flags=re.MULTILINE | re.DOTALL)
    assert [kind for kind, _ in blocks][:2] == ["sh", ""], blocks
    commands = [line for line in blocks[0][1].splitlines() if line.strip()]
    return commands, blocks[1][1]


@dataclass
class Walkthrough:
    """Each command as run, with everything it printed, and what `make local-up` made."""

    checkout: Path
    env: dict[str, str]
    ran: list[tuple[str, subprocess.CompletedProcess[str]]] = field(default_factory=list)
    passwords: list[str] = field(default_factory=list)
    pids: list[tuple[int, str | None]] = field(default_factory=list)
    modes: dict[str, int] = field(default_factory=dict)

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        result = run(["bash", "-c", command], cwd=self.checkout, env=self.env, timeout=1200)
        self.ran.append((command, result))
        return result

    def keep_what_local_up_made(self) -> None:
        """The generated passwords and the engines' ids, read before `make local-down`
        removes them; and the modes of what holds the passwords."""
        local = self.checkout / ".local"
        self.modes = {
            path.name: stat.S_IMODE(path.stat().st_mode) for path in [local, *local.glob("*.env")]
        }
        for path in local.glob("*.env"):
            for line in path.read_text().splitlines():
                if line.startswith("AMQP_PASSWORD="):
                    self.passwords.append(line.split("=", 1)[1])
        self.pids = [processes.read_pid(path) for path in (local / "run").glob("*.pid")]


def _checkout(root: Path) -> Path:
    """A second checkout with the docs the walkthrough runs; its moto on a free port."""
    second_checkout(root, "docs")
    point_local_at(root, f"http://{moto_server.HOST}:{processes.free_port()}")
    return root


def _prompt_env(terraform_env: dict[str, str]) -> dict[str, str]:
    """A person's shell: no AWS variable, the machine's Python first on PATH; Terraform's
    provider mirror as the caller set it (TF_PLUGIN_MIRROR)."""
    venv = str(PROJECT_ROOT / ".venv")
    env = {
        name: value
        for name, value in terraform_env.items()
        if not name.startswith(("AWS_", "TF_CLI_CONFIG")) and name not in _NOT_AT_A_PROMPT
    }
    env["PATH"] = os.pathsep.join(
        part for part in env["PATH"].split(os.pathsep) if not part.startswith(venv)
    )
    return env


@pytest.fixture(scope="module")
def walkthrough(
    tmp_path_factory: pytest.TempPathFactory, terraform_env: dict[str, str]
) -> Iterator[Walkthrough]:
    require(moto_server.executable() is not None, "moto_server", "run `make install`")
    require_emulator()
    for script in ("rabbitmq-server", "rabbitmqctl"):
        require(find_script(script) is not None, script, INSTALL_HINT)
    commands, _ = _blocks()
    assert commands[0] == "make local-up" and commands[-1] == "make local-down", commands
    done = Walkthrough(
        _checkout(tmp_path_factory.mktemp("local-up") / "ml-queues"), _prompt_env(terraform_env)
    )
    try:
        for command in commands:
            result = done.run(command)
            assert result.returncode == 0, (command, result.stdout[-4000:], result.stderr[-4000:])
            if command == "make local-up":
                done.keep_what_local_up_made()
        yield done
    finally:
        if (done.checkout / ".local" / "run").is_dir():  # a command failed before local-down
            done.run("make local-down")


def test_worker_2_takes_the_task_the_producer_sent_it_on_each_backend(
    walkthrough: Walkthrough,
) -> None:
    """Everything the walkthrough prints besides make's own commands is what the README
    shows: one line per backend, from worker 2."""
    _, shown = _blocks()
    printed = "".join(
        result.stdout for command, result in walkthrough.ran if not command.startswith("make ")
    )
    assert printed == shown


def test_local_up_says_where_each_worker_s_variables_are(walkthrough: Walkthrough) -> None:
    [(_, up)] = [
        (command, result) for command, result in walkthrough.ran if command == "make local-up"
    ]
    lines = up.stdout.splitlines()
    start = lines.index(
        "What each one needs, as KEY=value lines for `set -a; . <file>` (mode 0600: the"
        " generated RabbitMQ passwords are in them, and nowhere else):"
    )
    assert lines[start + 1 :] == [
        "  producer: .local/producer.env",
        "  worker 1: .local/worker-1.env",
        "  worker 2: .local/worker-2.env",
        "  worker 3: .local/worker-3.env",
        "Stop everything with `make local-down`.",
    ]
    started = [re.sub(r" at .*", "", line) for line in lines if line.startswith("started ")]
    assert started[:2] == ["started moto (AWS)", "started Google's Pub/Sub emulator"]
    assert re.fullmatch(r"started RabbitMQ \d+\.\d+\.\d+", started[2]), started


def test_no_generated_password_is_printed_and_none_is_readable_by_others(
    walkthrough: Walkthrough,
) -> None:
    assert len(walkthrough.passwords) == 4  # the producer and three workers, each its own
    assert len(set(walkthrough.passwords)) == 4
    assert all(re.fullmatch(r"[0-9a-f]{48}", password) for password in walkthrough.passwords)
    for command, result in walkthrough.ran:
        for password in walkthrough.passwords:
            assert password not in result.stdout + result.stderr, command
    assert walkthrough.modes == {
        ".local": 0o700,
        "producer.env": 0o600,
        **{f"worker-{n}.env": 0o600 for n in (1, 2, 3)},
    }


def test_local_down_stops_every_process_local_up_started(walkthrough: Walkthrough) -> None:
    """moto, the emulator, the node and its epmd; and `.local/` is gone."""
    assert len(walkthrough.pids) == 4
    assert not [pid for pid, started in walkthrough.pids if processes.running(pid, started)]
    assert not (walkthrough.checkout / ".local").exists()
    # What local's state described went with that moto: the next local-up plans from none.
    assert not (walkthrough.checkout / "terraform.local.tfstate").exists()
    [(_, down)] = [(c, r) for c, r in walkthrough.ran if c == "make local-down"]
    assert down.stdout.splitlines()[-1] == (
        "removed .local/ (the variables files, the node's data and the logs)"
    )
