"""Pid files stop exactly the process they name, and nothing that took its id since."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys
from pathlib import Path

from tools import processes

IGNORES_TERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def test_a_pid_file_holds_the_id_and_start_time_for_this_user_only(
    child: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    path = tmp_path / "engine.pid"
    processes.write_pid(path, child.pid)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pid, started = processes.read_pid(path)
    assert (pid, started) == (child.pid, processes.start_time(child.pid))
    assert started is not None and processes.running(pid, started)


def test_stop_ends_the_process_and_a_zombie_counts_as_stopped(
    child: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    """The child is not waited for until the end: it stays a zombie, as an orphan does where
    nothing reaps (a container's first process), and is stopped all the same."""
    path = tmp_path / "engine.pid"
    processes.write_pid(path, child.pid)
    assert processes.stop(path, seconds=20) == f"pid {child.pid} stopped"
    assert not path.exists()
    assert not processes.running(child.pid, None)
    assert child.wait(timeout=5) == -15


def test_a_process_that_took_the_id_since_is_left_alone(
    child: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    path = tmp_path / "engine.pid"
    path.write_text(f"{child.pid} 1\n")
    assert processes.stop(path, seconds=1) == f"pid {child.pid} had already stopped"
    assert child.poll() is None


def test_a_process_that_ignores_sigterm_is_killed_in_the_end(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", IGNORES_TERM], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        path = tmp_path / "stubborn.pid"
        processes.write_pid(path, process.pid)
        assert processes.stop(path, seconds=1, group=True) == f"pid {process.pid} killed after 1 s"
        assert process.wait(timeout=10) == -9
    finally:
        process.kill()
        process.wait()


def test_a_free_port_is_free_and_a_listening_one_is_not() -> None:
    port = processes.free_port()
    assert not processes.listens(port)
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert processes.listens(port)
