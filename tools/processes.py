"""Engines' processes on this machine: free loopback ports, and pid files that stop exactly
the process they name.

Why pid files with a start time: the command that stops engines may run in another process
than the one that started them, and then knows them by id only. An id alone can
name another process by the time it is read (ids are reused, 32768 of them here), and a
process whose parent is gone may stay a zombie where nothing reaps orphans (a container's
first process); so a pid file holds the id and the start time the kernel gives the process,
a process whose start time differs is someone else's and is left alone, and a zombie counts
as stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

_PROC = Path("/proc")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def listens(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until(
    ready: Callable[[], bool], *, alive: Callable[[], bool], seconds: float, what: str
) -> None:
    """Poll `ready` until it holds; raise RuntimeError if `alive` fails first, or after
    `seconds`."""
    deadline = time.monotonic() + seconds
    while not ready():
        if not alive():
            raise RuntimeError(f"{what} exited before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {seconds:.0f} s")
        time.sleep(0.2)


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name; None: no such process."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces or parentheses itself.
    return text[text.rindex(")") + 2 :].split()


def start_time(pid: int) -> str | None:
    """When the process started, in clock ticks since boot (field 22 of /proc/<pid>/stat);
    None without /proc (then a pid file holds the id alone)."""
    fields = _stat(pid)
    return fields[19] if fields is not None else None


def running(pid: int, started: str | None) -> bool:
    """Whether the process `pid` that started at `started` is still there and not a zombie."""
    fields = _stat(pid)
    if fields is None:
        if _PROC.is_dir():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return fields[0] != "Z" and (started is None or fields[19] == started)


def write_pid(path: Path, pid: int) -> None:
    """`pid` and its start time, readable by this user only."""
    started = start_time(pid)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(f"{pid} {started or ''}".strip() + "\n")


def read_pid(path: Path) -> tuple[int, str | None]:
    pid, _, started = path.read_text().strip().partition(" ")
    return int(pid), started or None


def stop(path: Path, *, seconds: float = 60, group: bool = False) -> str:
    """Stop the process the pid file names, if it is still that process: SIGTERM, then after
    `seconds` SIGKILL (to its process group, with `group`: a process started in a session of
    its own leads it). Removes the file; says what was done."""
    pid, started = read_pid(path)
    path.unlink()
    if not running(pid, started):
        return f"pid {pid} had already stopped"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + seconds
    while running(pid, started):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                if group and os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            return f"pid {pid} killed after {seconds:.0f} s"
        time.sleep(0.2)
    return f"pid {pid} stopped"
