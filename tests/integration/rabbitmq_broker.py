"""A throwaway RabbitMQ node for the tests: loopback only, its own ports, files and epmd.

Nothing is shared with a broker the machine may already run: the node name, the AMQP,
management, distribution and epmd ports are fresh, and every file lives in one temporary
folder. Waits are bounded; `stop` also kills what a failed start left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.harness import free_port

# Debian's /usr/sbin wrappers switch to the rabbitmq user when run as root; the scripts they
# wrap run as whoever calls them, which keeps every file in our temporary folder.
SCRIPT_DIRS = ("/usr/lib/rabbitmq/bin",)


def find_script(name: str) -> str | None:
    path = os.pathsep.join([*SCRIPT_DIRS, os.environ.get("PATH", "")])
    return shutil.which(name, path=path)


@dataclass
class Broker:
    home: Path
    amqp_port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    epmd_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def node(self) -> str:
        return f"mlqueues{self.amqp_port}@localhost"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.home),  # where the node's Erlang cookie lives
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_CONFIG_FILE": str(self.home / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
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
        )
        (self.home / "enabled_plugins").write_text("[rabbitmq_management].\n")

    def ctl(self, *args: str, timeout: float = 120) -> str:
        script = find_script("rabbitmqctl")
        assert script is not None
        result = subprocess.run(
            [script, "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout

    def start(self) -> None:
        script = find_script("rabbitmq-server")
        assert script is not None
        log = (self.home / "server.out").open("ab")
        # Own process group: if the node hangs, stop() can kill the script and erl together.
        self.process = subprocess.Popen(
            [script], env=self.env, stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        try:
            self._await_startup(deadline=time.monotonic() + 90)
        except (RuntimeError, subprocess.TimeoutExpired):
            self.stop()
            raise

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
        """Stop the node (its messages stay on disk), then its epmd."""
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
        epmd = shutil.which("epmd", path=f"/usr/lib/erlang/bin:{os.environ.get('PATH', '')}")
        if epmd is not None:
            subprocess.run(
                [epmd, "-port", str(self.epmd_port), "-kill"],
                env=self.env,
                capture_output=True,
                timeout=30,
                check=False,
            )

    def restart(self) -> None:
        self.stop()
        self.start()
