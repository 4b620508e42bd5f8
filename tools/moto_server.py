"""Start and stop moto's AWS emulator on 127.0.0.1, for the `local` environment.

Used by `make deploy-local` / `make stop-local` and by the integration tests, so both run
the emulator the same way: loopback only, bounded wait until it answers.

    python -m tools.moto_server start    # returns once moto answers; pid in .cache/moto.pid
    python -m tools.moto_server stop
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
PORT = 4566  # config/local.toml's [sqs] endpoint
ENDPOINT = f"http://{HOST}:{PORT}"
# moto accepts any credentials; these are its documented test values, set only here.
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}
STATE_DIR = Path(__file__).resolve().parent.parent / ".cache"


def executable() -> str | None:
    """moto_server from this Python's environment (the project's virtualenv)."""
    return shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which(
        "moto_server"
    )


def answers(endpoint: str = ENDPOINT) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
            return True
    except (urllib.error.URLError, OSError):
        return False


def endpoint_at(port: int) -> str:
    return f"http://{HOST}:{port}"


def start(log: IO[str], port: int = PORT) -> subprocess.Popen[bytes]:
    """Start moto and return once it answers; raise if it exits or stays silent for 30 s.
    `port`: another than local.toml's, for tests and benchmarks that run beside it. In a
    session of its own, so that the terminal that started it can close."""
    server = executable()
    if server is None:
        raise RuntimeError("moto_server not found: run `make install`")
    process = subprocess.Popen(
        [server, "-H", HOST, "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not answers(endpoint_at(port)):
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}; see {log.name}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"moto_server did not answer within 30 s; see {log.name}")
        time.sleep(0.2)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    args = parser.parse_args(argv)
    pid_file = STATE_DIR / "moto.pid"
    if args.action == "start":
        if answers():
            print(f"moto already answers at {ENDPOINT}")
            return 0
        STATE_DIR.mkdir(exist_ok=True)
        with (STATE_DIR / "moto.log").open("w") as log:
            try:
                process = start(log)
            except RuntimeError as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
        pid_file.write_text(str(process.pid))
        print(f"moto answers at {ENDPOINT} (pid {process.pid}); stop it with `make stop-local`")
        return 0
    if not pid_file.exists():
        print("moto was not started by `make deploy-local`")
        return 0
    with contextlib.suppress(ProcessLookupError):  # already gone: nothing to stop
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
    pid_file.unlink()
    print("moto stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
