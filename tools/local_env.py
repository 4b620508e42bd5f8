"""`make local-up` and `make local-down`: an environment's local copy on this machine's engines.

Why: trying the app on all three backends used to take three recipes (`make deploy-local`,
the emulator by hand, a broker by hand) and a password typed somewhere. `up` starts, on
127.0.0.1, each engine the environment needs: moto where its AWS provider's endpoint says
(`[sqs] endpoint`), Google's Pub/Sub emulator and a RabbitMQ node on free ports. Then it
deploys the Terraform part through the plan guard, as `make deploy` does, loads the part
the environment keeps out of Terraform (`deploy = "emulator"`) into the emulators, the
Pub/Sub part through the emulator loader and the RabbitMQ part through its definitions,
with users whose passwords it generates, and writes what the producer and each worker need
to `.local/<who>.env`. No password is printed, and none is written where another user can
read it: the files have mode 0600 in a folder of mode 0700, and the users reach the node as
salted hashes (tools/rabbitmq_node.py). A failure stops what was started and removes
`.local/`.

`down` stops the processes `up` started, by the pid files in `.local/run/` and nothing else
(each only while it is still the process that was started), then removes `.local/`: every
engine keeps its data in memory or there, so each `up` starts empty.

    python -m tools.local_env up cdktf.out/stacks/local
    python -m tools.local_env down
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import sys
import urllib.parse
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.api_core.exceptions import GoogleAPIError

from constructs_lib.registry import backends, env_lines
from tools import moto_server, plan_guard, processes, pubsub_emulator, rabbitmq_definitions
from tools.operator_input import OperatorError, emulated_part, synthesized
from tools.rabbitmq_node import INSTALL_HINT as RABBITMQ_INSTALL_HINT
from tools.rabbitmq_node import Broker, find_script, import_definitions
from tools.worker_env import NotDeployedError, deployed_outputs

LOCAL = Path(".local")
RUN = LOCAL / "run"
# Stopped in this order: a node before its epmd.
PID_FILES = ("rabbitmq.pid", "epmd.pid", "pubsub-emulator.pid", "moto.pid")
# Names the Terraform state of what `up` deployed into its moto: it describes nothing once
# that moto (which keeps everything in memory) is stopped, and a later plan against a new,
# empty one would spend a minute refreshing each resource it lists.
STATE_NOTE = RUN / "terraform-state"
TERRAFORM_HINT = "install Terraform >= 1.11 (https://developer.hashicorp.com/terraform/install)"


class LocalError(Exception):
    """Why the local copy cannot be had; one line that says what to do."""


@dataclass
class Up:
    """Each identity's variables, as `up` gathers them."""

    variables: dict[str, list[str]] = field(default_factory=dict)

    def add(self, who: str, lines: list[str]) -> None:
        self.variables.setdefault(who, []).extend(lines)


def _identities(stack: Mapping[str, Any]) -> list[str]:
    """`producer`, then `worker_1` ... `worker_N`, from the stack's outputs."""
    outputs = stack.get("output", {})
    workers = sorted(
        (name for name in outputs if re.fullmatch(r"worker_\d+", name)),
        key=lambda name: int(name.split("_")[1]),
    )
    return ["producer", *workers]


def _aws_endpoint(stack: Mapping[str, Any], name: str) -> str | None:
    """The loopback endpoint the Terraform part's AWS provider points at (moto's), None
    without AWS; anything else of it cannot run here."""
    providers = stack.get("provider", {})
    others = sorted(set(providers) - {"aws"})
    if others:
        raise LocalError(
            f"the Terraform part of {name} needs the {', '.join(others)} provider, which no"
            f" engine here stands in for; load that backend into its emulator"
            f' (`deploy = "emulator"` in config/{name}.toml) or switch it off'
        )
    endpoints = {
        url
        for block in providers.get("aws", [])
        for table in block.get("endpoints", [])
        for url in table.values()
    }
    if not providers.get("aws"):
        return None
    hosts = {urllib.parse.urlsplit(url).hostname for url in endpoints}
    if len(endpoints) != 1 or hosts != {moto_server.HOST}:
        raise LocalError(
            f"the AWS provider of {name} does not point at one endpoint on {moto_server.HOST}"
            f" (found: {', '.join(sorted(endpoints)) or 'AWS itself'}); a local copy deploys"
            " into moto only"
        )
    [endpoint] = endpoints
    return str(endpoint)


def _require(found: object, what: str, how: str) -> None:
    if not found:
        raise LocalError(f"{what} is not available: {how}")


def _check_engines(endpoint: str | None, emulated: set[str]) -> None:
    """Every engine the environment needs, before anything starts."""
    if endpoint is not None:
        _require(shutil.which("terraform"), "the terraform CLI", TERRAFORM_HINT)
        _require(moto_server.executable(), "moto_server", "run `make install`")
        port = urllib.parse.urlsplit(endpoint).port
        if port is not None and processes.listens(port):
            raise LocalError(
                f"port {port} on {moto_server.HOST}, where moto must listen ({endpoint}), is"
                " taken: stop what listens there (the moto of `make deploy-local`:"
                " `make stop-local`)"
            )
    if "pubsub" in emulated:
        _require(
            pubsub_emulator.find_java(),
            "java (for Google's Pub/Sub emulator)",
            pubsub_emulator.INSTALL_HINT,
        )
        _require(
            pubsub_emulator.find_jar(),
            f"Google's Pub/Sub emulator ({pubsub_emulator.PACKAGE})",
            pubsub_emulator.INSTALL_HINT,
        )
    if "rabbitmq" in emulated:
        for script in ("rabbitmq-server", "rabbitmqctl"):
            _require(find_script(script), script, RABBITMQ_INSTALL_HINT)
    unknown = sorted(emulated - {"pubsub", "rabbitmq"})
    if unknown:
        raise LocalError(f"no engine here takes the {', '.join(unknown)} part")


def _emulated_backends(stack: Mapping[str, Any]) -> set[str]:
    """The emulated part's backends, by the providers its resources need."""
    providers = stack.get("provider", {})
    return {backend.key for backend in backends() if backend.provider in providers}


def _started(line: str) -> None:
    print(f"started {line}", flush=True)


def _start_moto(endpoint: str) -> None:
    port = urllib.parse.urlsplit(endpoint).port or moto_server.PORT
    with (RUN / "moto.log").open("w") as log:
        process = moto_server.start(log, port)
    processes.write_pid(RUN / "moto.pid", process.pid)
    _started(f"moto (AWS) at {endpoint}, pid {process.pid}")


def _start_pubsub() -> tuple[str, str]:
    """The emulator's host:port, and what to say about it."""
    java, jar = pubsub_emulator.find_java(), pubsub_emulator.find_jar()
    assert java is not None and jar is not None
    emulator = pubsub_emulator.Emulator(java, jar, RUN / "pubsub-emulator.log")
    processes.write_pid(RUN / "pubsub-emulator.pid", emulator.process.pid)
    return (
        emulator.host,
        f"Google's Pub/Sub emulator at {emulator.host}, pid {emulator.process.pid}",
    )


def _start_rabbitmq() -> tuple[Broker, str]:
    """The running node, and what to say about it."""
    home = LOCAL / "rabbitmq"
    home.mkdir(mode=0o700)
    node = Broker(home=home.resolve())
    node.configure()
    try:
        node.start()
    finally:
        # Written as soon as each exists: a start that failed half-way stops them too.
        for name, process in (("rabbitmq.pid", node.process), ("epmd.pid", node.epmd)):
            if process is not None:
                processes.write_pid(RUN / name, process.pid)
    assert node.process is not None and node.epmd is not None
    version = ".".join(map(str, node.version))
    return node, (
        f"RabbitMQ {version} at amqp://127.0.0.1:{node.amqp_port} (management"
        f" http://127.0.0.1:{node.management_port}), pids {node.process.pid} (node),"
        f" {node.epmd.pid} (its epmd)"
    )


def _deploy(stack_dir: Path, stack: Mapping[str, Any], endpoint: str, up: Up) -> None:
    """The Terraform part through the plan guard, as `make deploy` runs it; then what each
    identity needs from the deployed outputs, and how it reaches moto."""
    backend = stack.get("terraform", {}).get("backend", {})
    if "local" in backend:
        STATE_NOTE.write_text(str((stack_dir / backend["local"]["path"]).resolve()))
    print(f"deploying the Terraform part of {stack_dir.name} through the plan guard:", flush=True)
    code = plan_guard.main([str(stack_dir), "--apply"])
    if code != 0:
        raise LocalError(f"the plan guard stopped the deploy of {stack_dir.name} (exit {code})")
    try:
        outputs = deployed_outputs(stack_dir, dict(stack))
    except NotDeployedError as error:
        raise LocalError(
            f"the deployed outputs of {stack_dir.name} cannot be read: {error}"
        ) from None
    for who in _identities(stack):
        up.add(
            who,
            [
                # moto's documented test values, whatever credentials the deploy used.
                *(f"{name}={value}" for name, value in moto_server.EMULATOR_CREDENTIALS.items()),
                f"AWS_ENDPOINT_URL_SQS={endpoint}",
                *env_lines(outputs[who]["value"], producer=who == "producer"),
            ],
        )


def _load_pubsub(stack: Mapping[str, Any], host: str, up: Up) -> None:
    os.environ[pubsub_emulator.EMULATOR_VARIABLE] = host
    plan = pubsub_emulator.topology(stack)
    pubsub_emulator.load(plan)
    print(
        f"loaded {len(plan.topics)} topics and {len(plan.subscriptions)} subscriptions into the"
        " Pub/Sub emulator"
    )
    for line in plan.not_held:
        print(f"  not in the emulator: {line}")
    for who in _identities(stack):
        wiring = pubsub_emulator.wiring(stack, who)
        lines = env_lines(wiring, producer=who == "producer")
        up.add(who, [f"{pubsub_emulator.EMULATOR_VARIABLE}={host}", *lines])


def _load_rabbitmq(stack: Mapping[str, Any], node: Broker, up: Up) -> None:
    """The definitions with each user, whose password is generated here and kept only in
    that identity's variables."""
    users = [body["name"] for body in stack.get("resource", {}).get("rabbitmq_user", {}).values()]
    passwords = {user: rabbitmq_definitions.generated_password() for user in users}
    found = rabbitmq_definitions.definitions(stack, passwords)
    import_definitions(node, found)
    # Its default administrator, guest/guest, would let anyone on this machine in through
    # loopback; rabbitmqctl administers the node with the Erlang cookie in its folder.
    node.ctl("delete_user", "guest")
    print(
        f"loaded vhost {', '.join(vhost['name'] for vhost in found['vhosts'])} with"
        f" {len(found['queues'])} queues and {len(found['users'])} users into the RabbitMQ node"
    )
    for who in _identities(stack):
        wiring = rabbitmq_definitions.wiring(stack, who)
        user = wiring["rabbitmq"].get("user")
        lines = [
            "AMQP_HOST=127.0.0.1",
            f"AMQP_PORT={node.amqp_port}",
            *env_lines(wiring, producer=who == "producer"),
        ]
        if user in passwords:
            lines.append(f"AMQP_PASSWORD={passwords[user]}")
        up.add(who, lines)


def _file_name(who: str) -> str:
    return "producer.env" if who == "producer" else f"worker-{who.split('_')[1]}.env"


def _write_variables(name: str, up: Up) -> list[str]:
    """Each identity's variables in `.local/<who>.env`, created with mode 0600."""
    written = []
    for who, lines in up.variables.items():
        path = LOCAL / _file_name(who)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(f"# {who.replace('_', ' ')} of {name} on this machine (make local-up)\n")
            for line in lines:
                key, _, value = line.partition("=")
                out.write(f"{key}={shlex.quote(value)}\n")
        label = "producer" if who == "producer" else who.replace("_", " ")
        written.append(f"  {label}: {path}")
    return written


def _running() -> list[str]:
    """The pid files of `.local/run/` whose process still runs."""
    found = []
    for name in PID_FILES:
        path = RUN / name
        if path.is_file() and processes.running(*processes.read_pid(path)):
            found.append(name)
    return found


def _prepare() -> None:
    """A fresh `.local/`, private to this user; refused while an earlier `up` still runs."""
    alive = _running()
    if alive:
        raise LocalError(
            f"the local copy is up already ({', '.join(alive)} in {RUN}): `make local-down` first"
        )
    shutil.rmtree(LOCAL, ignore_errors=True)
    LOCAL.mkdir(mode=0o700)
    LOCAL.chmod(0o700)  # whatever the umask
    RUN.mkdir(mode=0o700)


def up(stack_dir: Path) -> int:
    stack = synthesized(stack_dir)
    emulated_dir = emulated_part(stack_dir)
    emulated = synthesized(emulated_dir) if (emulated_dir / "cdk.tf.json").is_file() else {}
    endpoint = _aws_endpoint(stack, stack_dir.name)
    _check_engines(endpoint, _emulated_backends(emulated))
    _prepare()
    result = Up()
    with _stopped_on_failure():
        _bring_up(stack_dir, stack, emulated, endpoint, result)
        written = _write_variables(stack_dir.name, result)
    print(f"{stack_dir.name} is up on this machine.")
    print(
        "What each one needs, as KEY=value lines for `set -a; . <file>` (mode 0600: the"
        " generated RabbitMQ passwords are in them, and nowhere else):"
    )
    print("\n".join(written))
    print("Stop everything with `make local-down`.")
    return 0


def _bring_up(
    stack_dir: Path,
    stack: Mapping[str, Any],
    emulated: Mapping[str, Any],
    endpoint: str | None,
    result: Up,
) -> None:
    """moto, then the deploy into it, while the emulators start beside them (their boot is
    mostly waiting, a minute saved on two cores); then the loads."""
    backends = _emulated_backends(emulated)
    with ThreadPoolExecutor(max_workers=2) as pool:
        pubsub = pool.submit(_start_pubsub) if "pubsub" in backends else None
        rabbitmq = pool.submit(_start_rabbitmq) if "rabbitmq" in backends else None
        if endpoint is not None:
            _start_moto(endpoint)
            _deploy(stack_dir, stack, endpoint, result)
        # A failed start raises here, after the `with` has waited for the other one, so
        # that both pid files are there for the clean-up.
        if pubsub is not None:
            host, said = pubsub.result()
            _started(said)
            _load_pubsub(emulated, host, result)
        if rabbitmq is not None:
            node, said = rabbitmq.result()
            _started(said)
            _load_rabbitmq(emulated, node, result)


@contextlib.contextmanager
def _stopped_on_failure() -> Iterator[None]:
    """Whatever goes wrong, Ctrl-C included, stops what was started and removes `.local/`."""
    try:
        yield
    except BaseException:
        for line in _stop_all():
            print(f"stopped after the failure: {line}", file=sys.stderr)
        raise


def _stop_all() -> list[str]:
    """Each process a pid file names, stopped; the state of what was deployed into moto and
    `.local/` removed. What was done."""
    said = []
    for name in PID_FILES:
        path = RUN / name
        if path.is_file():
            said.append(f"{name.removesuffix('.pid')}: {processes.stop(path, group=True)}")
    if STATE_NOTE.is_file():
        state = Path(STATE_NOTE.read_text())
        for path in (state, state.with_name(f"{state.name}.backup")):
            if path.is_file():
                path.unlink()
                said.append(f"removed {path.name}: it described what the stopped moto held")
    shutil.rmtree(LOCAL, ignore_errors=True)
    return said


def down() -> int:
    if not RUN.is_dir():
        print(f"the local copy is not up ({RUN} does not exist): nothing to stop")
        shutil.rmtree(LOCAL, ignore_errors=True)
        return 0
    for line in _stop_all():
        print(line)
    print(f"removed {LOCAL}/ (the variables files, the node's data and the logs)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("stack_dir", type=Path, nargs="?", help="cdktf.out/stacks/<env> (up)")
    args = parser.parse_args(argv)
    if args.action == "down":
        return down()
    if args.stack_dir is None:
        parser.error("up needs the stack, cdktf.out/stacks/<env>")
    try:
        return up(args.stack_dir)
    except (
        LocalError,
        OperatorError,
        RuntimeError,
        pubsub_emulator.UntranslatableError,
        GoogleAPIError,
        rabbitmq_definitions.DefinitionsError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
