"""Google's Pub/Sub emulator for the tests: its jar run by Java, on a free loopback port.

The jar is started directly and stopped by its own PID: `gcloud beta emulators pubsub start`
leaves its Java child running when the wrapper is killed. The emulator keeps everything in
memory, so each start is empty. Waits are bounded.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.harness import free_port, require

PACKAGE = "google-cloud-cli-pubsub-emulator"
# Where the package puts it; `dpkg -L` is asked when the glob finds nothing.
JAR_GLOB = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar"
INSTALL_HINT = (
    f"install Google's Pub/Sub emulator and Java: `apt-get install {PACKAGE}` from the Google"
    " Cloud CLI's Debian repository (it brings its jar, cloud-pubsub-emulator-*-all.jar) and"
    " `apt-get install default-jre-headless` (Java 17 or newer); the tests start their own"
    " emulator, so none has to run"
)
# Debian 13 images of this machine kind lack the Google Cloud CLI's packages, so the jar cannot
# be installed there; on such a machine, and only there, the emulator tests are skipped.
DEBIAN_13_REASON = (
    f"Debian 13 without {PACKAGE}: the image of this machine kind lacks the Google Cloud CLI's"
    " packages, so Pub/Sub's emulator cannot be installed here"
)


def find_jar() -> Path | None:
    found = sorted(glob.glob(JAR_GLOB))
    if not found and shutil.which("dpkg") is not None:
        listed = subprocess.run(
            ["dpkg", "-L", PACKAGE], capture_output=True, text=True, timeout=30, check=False
        ).stdout.splitlines()
        found = sorted(line for line in listed if line.endswith("-all.jar"))
    return Path(found[-1]) if found else None


def debian_major(version_file: Path = Path("/etc/debian_version")) -> str | None:
    try:
        return version_file.read_text().strip().split(".")[0]
    except OSError:
        return None


def require_emulator() -> tuple[str, Path]:
    """Java and the jar, or a failure that says how to install them (a named skip only on
    Debian 13 without the package, or with the opt-out variable)."""
    jar = find_jar()
    if jar is None and debian_major() == "13":
        pytest.skip(DEBIAN_13_REASON)
    java = shutil.which("java")
    require(java is not None, "java (for Google's Pub/Sub emulator)", INSTALL_HINT)
    require(jar is not None, f"Google's Pub/Sub emulator ({PACKAGE})", INSTALL_HINT)
    assert java is not None and jar is not None
    return java, jar


class Emulator:
    """One emulator process; `host` is what PUBSUB_EMULATOR_HOST takes."""

    def __init__(self, java: str, jar: Path, log: Path) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [java, "-jar", str(jar), "--host=127.0.0.1", f"--port={self.port}"],
                stdout=output,
                stderr=output,
            )
        try:
            self._await_answer(deadline=time.monotonic() + 60)
        except RuntimeError:
            self.stop()
            raise

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}/", timeout=1) as response:
                return b"Ok" in response.read()
        except (urllib.error.URLError, OSError):
            return False

    def _await_answer(self, *, deadline: float) -> None:
        while not self.answers():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the Pub/Sub emulator exited with {self.process.returncode}; see {self.log}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Pub/Sub emulator did not answer in time; see {self.log}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
