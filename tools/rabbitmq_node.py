"""A throwaway RabbitMQ node: loopback only, its own ports, files and epmd.

For the tests and the tools. Nothing is shared with a broker the machine may
already run: the node name, the AMQP, management, distribution and epmd ports are fresh, and
every file lives in one folder. Waits are bounded; `stop` also kills what a failed start
left behind. The node's epmd is started here, not by Erlang as a daemon, so that both of
its processes have an id that stops them, also from another process (by pid files).

A node runs either from the machine's own RabbitMQ or inside a chroot of another Debian
release (tests/integration/rabbitmq_chroot.py), which shares the machine's network: its
ports are on the same loopback, and everything it writes stays under the chroot. In a
chroot, `/proc` is mounted for Erlang while a node runs there, and unmounted when the last
node there stops: test modules run side by side, each with its own node in one chroot.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.processes import free_port, listens, wait_until

# Debian's /usr/sbin wrappers switch to the rabbitmq user when run as root; the scripts they
# wrap run as whoever calls them, which keeps every file in our temporary folder.
SCRIPT_DIRS = ("/usr/lib/rabbitmq/bin",)
ERLANG_DIRS = ("/usr/lib/erlang/bin",)
INSTALL_HINT = (
    "install RabbitMQ: `apt-get install rabbitmq-server` (Debian/Ubuntu), `brew install"
    " rabbitmq` (macOS); a node of its own is started, so none need be running"
)
# In a chroot: which nodes need its /proc (see Broker._proc_users).
PROC_USERS = ".ml-queues-proc-users"


def _alive(entry: Path) -> bool:
    """Whether the process whose id `entry` holds still runs."""
    try:
        os.kill(int(entry.read_text()), 0)
    except (ValueError, ProcessLookupError):
        return False
    return True


def find_script(name: str) -> str | None:
    path = os.pathsep.join([*SCRIPT_DIRS, os.environ.get("PATH", "")])
    return shutil.which(name, path=path)


@dataclass
class Broker:
    """`home` holds the node's files; with `root`, a chroot that `home` lies inside."""

    home: Path
    root: Path | None = None
    amqp_port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    epmd_port: int = field(default_factory=free_port)
    # rabbitmq_prometheus's endpoint, which the alert tests scrape.
    metrics_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    epmd: subprocess.Popen[bytes] | None = None

    @property
    def node(self) -> str:
        return f"mlqueues{self.amqp_port}@localhost"

    def visible(self, path: Path) -> str:
        """`path` as the node sees it: inside the chroot, relative to its root."""
        if self.root is None:
            return str(path)
        return "/" + str(path.relative_to(self.root))

    def _command(self, name: str, dirs: tuple[str, ...]) -> list[str] | None:
        """How to run `name` for this node (in its chroot, if it has one); None if absent."""
        if self.root is None:
            found = shutil.which(name, path=os.pathsep.join([*dirs, os.environ.get("PATH", "")]))
            return None if found is None else [found]
        for folder in dirs:
            if (self.root / folder.lstrip("/") / name).exists():
                return ["chroot", str(self.root), f"{folder}/{name}"]
        return None

    def _script(self, name: str) -> list[str]:
        command = self._command(name, SCRIPT_DIRS)
        assert command is not None, f"{name} is not installed"
        return command

    @property
    def env(self) -> dict[str, str]:
        home = self.visible(self.home)
        return {
            **os.environ,
            "HOME": home,  # where the node's Erlang cookie lives
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_CONFIG_FILE": f"{home}/rabbitmq.conf",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{home}/enabled_plugins",
            "RABBITMQ_MNESIA_BASE": f"{home}/mnesia",
            "RABBITMQ_LOG_BASE": f"{home}/log",
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
        }

    def configure(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}\n"
            "management.tcp.ip = 127.0.0.1\n"
            f"management.tcp.port = {self.management_port}\n"
            "prometheus.tcp.ip = 127.0.0.1\n"
            f"prometheus.tcp.port = {self.metrics_port}\n"
        )
        (self.home / "enabled_plugins").write_text("[rabbitmq_management,rabbitmq_prometheus].\n")

    def ctl(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [*self._script("rabbitmqctl"), "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout

    @property
    def version(self) -> tuple[int, ...]:
        status = json.loads(self.ctl("status", "--formatter", "json"))
        return tuple(int(part) for part in status["rabbitmq_version"].split(".")[:3])

    def start(self) -> None:
        self._mount_proc()
        try:
            self._start_epmd()
            # Own session: if the node hangs, stop() can kill the script and erl together,
            # and the terminal that started it can close without stopping it.
            self.process = self._spawn(self._script("rabbitmq-server"), "server.out")
            self._await_startup(deadline=time.monotonic() + 90)
        except (RuntimeError, subprocess.TimeoutExpired):
            self.stop()
            raise

    def _spawn(self, command: list[str], log_name: str) -> subprocess.Popen[bytes]:
        with (self.home / log_name).open("ab") as log:
            return subprocess.Popen(
                command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def _start_epmd(self) -> None:
        """The node's epmd, in the foreground as a child of this process; Erlang finds it on
        its port and starts none of its own."""
        epmd = self._command("epmd", ERLANG_DIRS)
        if epmd is None:
            raise RuntimeError("epmd is not installed (Erlang's erlang-base package)")
        self.epmd = self._spawn(
            [*epmd, "-port", str(self.epmd_port), "-address", "127.0.0.1"], "epmd.out"
        )
        epmd_process = self.epmd
        wait_until(
            lambda: listens(self.epmd_port),
            alive=lambda: epmd_process.poll() is None,
            seconds=30,
            what=f"epmd on port {self.epmd_port}",
        )

    @contextmanager
    def _proc_users(self) -> Iterator[Path]:
        """The chroot's registry of nodes that need its /proc, locked against other processes
        (test modules run side by side): one file per node, holding its test process's id."""
        assert self.root is not None
        users = self.root / PROC_USERS
        users.mkdir(exist_ok=True)
        with (self.root / f"{PROC_USERS}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield users

    def _mount_proc(self) -> None:
        """Erlang reads /proc: mount it in the chroot unless it is mounted already, and
        register this node as one that needs it."""
        if self.root is None:
            return
        with self._proc_users() as users:
            (users / self.node).write_text(str(os.getpid()))
            if not os.path.ismount(self.root / "proc"):
                subprocess.run(["mount", "-t", "proc", "proc", str(self.root / "proc")], check=True)

    def _unmount_proc(self) -> None:
        """Unregister this node; unmount /proc when no node of a live test process needs it
        (a run that was killed leaves its entries behind, and its mount)."""
        if self.root is None:
            return
        with self._proc_users() as users:
            (users / self.node).unlink(missing_ok=True)
            if any(_alive(entry) for entry in users.iterdir()):
                return
            for entry in users.iterdir():
                entry.unlink()
            proc = str(self.root / "proc")
            if not os.path.ismount(proc):
                return
            if subprocess.run(["umount", proc], capture_output=True, check=False).returncode:
                # Something of the node still holds it open: detach now, gone when it ends.
                subprocess.run(["umount", "--lazy", proc], check=True)

    def _await_startup(self, *, deadline: float) -> None:
        """`await_startup` fails at once until the node has registered; so retry, bounded."""
        while True:
            try:
                self.ctl("await_startup", "--timeout", "60", timeout=90)
                return
            except RuntimeError:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"rabbitmq-server exited; see {self.home}/log") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        """Stop the node (its messages stay on disk), then its epmd, then unmount /proc."""
        if self.process is not None:
            try:
                self.ctl("stop", timeout=60)
            except (RuntimeError, subprocess.TimeoutExpired):
                self.process.terminate()  # the script's TERM handler stops the node
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None
        if self.epmd is not None:
            self.epmd.terminate()
            try:
                self.epmd.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.epmd.kill()
                self.epmd.wait()
            self.epmd = None
        self._unmount_proc()

    def restart(self) -> None:
        self.stop()
        self.start()


def import_definitions(node: Broker, definitions: Mapping[str, Any]) -> None:
    """`definitions` into the running node, from a file of mode 0600 in the node's own folder,
    which rabbitmqctl (run here as this user, not as `rabbitmq`) reads and which is deleted
    at once: the users' password hashes stay on no command line and in no file after.
    Standard input would need no file, but 4.0.5's rabbitmqctl waits on it for ever."""
    path = node.home / f"definitions-{uuid.uuid4()}.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as out:
            json.dump(definitions, out)
        node.ctl("import_definitions", node.visible(path))
    finally:
        path.unlink()
