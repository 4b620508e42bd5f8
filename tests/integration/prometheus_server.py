"""A throwaway Prometheus for the alert tests: loopback only, its own port and storage.

It evaluates the rule files that `make rabbitmq-alerts` writes, against real brokers, and
answers through its HTTP API, which is what an Alertmanager or an operator would read.
Waits are bounded; `stop` kills it if it does not stop by itself.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.integration.harness import require
from tools.processes import free_port

INSTALL_HINT = (
    "install Prometheus: `apt-get install prometheus` (Debian/Ubuntu; it also brings promtool),"
    " `brew install prometheus` (macOS); the tests start their own server"
)
T = TypeVar("T")


def executable(name: str = "prometheus") -> str:
    """`prometheus` or `promtool`, failing the test with how to install it when absent."""
    found = shutil.which(name)
    require(found is not None, name, INSTALL_HINT)
    assert found is not None
    return found


@dataclass
class Prometheus:
    """`home` holds prometheus.yml, the files it names and the server's storage."""

    home: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, config: dict[str, Any]) -> None:
        config_file = self.home / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        log = (self.home / "prometheus.log").open("ab")
        self.process = subprocess.Popen(
            [
                executable(),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.home / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=log,
        )
        log.close()
        try:
            self.wait_for(self._ready, "Prometheus to be ready", timeout=60)
        except AssertionError:
            self.stop()
            raise

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"prometheus exited; see {self.home / 'prometheus.log'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=5):
                return True
        except OSError:
            return False

    def api(self, path: str, **params: str) -> Any:
        """The `data` of one API answer."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}{query}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            body = json.loads(answer.read())
        assert body["status"] == "success", body
        return body["data"]

    def value(self, expr: str) -> float | None:
        """The one sample `expr` gives now, or None when it gives none."""
        result = self.api("query", query=expr)["result"]
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts, as Prometheus would send them on."""
        alerts: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return alerts

    @staticmethod
    def wait_for(check: Callable[[], T | None], what: str, *, timeout: float) -> T:
        """Poll `check` until it gives something truthy, at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout:.0f} s for {what}")
            time.sleep(0.5)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
