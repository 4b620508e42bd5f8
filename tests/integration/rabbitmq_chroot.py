"""Debian releases as chroots, for the RabbitMQ lines this machine's own Debian does not ship.

Why: users run RabbitMQ 4.x while Debian 12 ships 3.10, and the project tests both lines
with Debian's own packages, from the archive apt already uses here. A line whose Debian
release is the machine's runs from the machine's `rabbitmq-server`; any other runs from a
chroot made by `debootstrap --variant=minbase --include=rabbitmq-server <suite>` (about 40 s),
kept in the project's ignored `.cache/` between runs. Test infrastructure only: nothing here
is on the product's code path, and nothing under the chroot is committed.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.integration.harness import PROJECT_ROOT

CACHE = PROJECT_ROOT / ".cache" / "rabbitmq-chroots"
# Written last, so a build that was interrupted is redone rather than used half-made.
COMPLETE = ".ml-queues-complete"
SOURCES_LIST = Path("/etc/apt/sources.list")
SOURCES_DIR = Path("/etc/apt/sources.list.d")
OS_RELEASE = Path("/etc/os-release")


@dataclass(frozen=True)
class Line:
    """A RabbitMQ line the tests run, and the Debian release that ships it."""

    name: str
    suite: str
    debian: str


# The lines tested, newest first: the one users run, then the oldest still supported here.
LINES = (Line("4.0", "trixie", "13"), Line("3.10", "bookworm", "12"))


class ChrootUnavailableError(RuntimeError):
    """Why a chroot cannot be had on this machine, with how to make it possible."""


def machine_suite(os_release: Path = OS_RELEASE) -> str | None:
    """The machine's Debian codename (`bookworm`), or None off Debian and its derivatives."""
    try:
        text = os_release.read_text()
    except OSError:
        return None
    match = re.search(r"^VERSION_CODENAME=\"?([a-z]+)\"?$", text, re.MULTILINE)
    return match.group(1) if match else None


def _entries(sources_list: Path, sources_dir: Path) -> Iterator[tuple[list[str], list[str]]]:
    """(URIs, suites) of every `deb` entry apt reads, one-line and deb822 forms alike."""
    one_line = [sources_list, *sorted(sources_dir.glob("*.list"))]
    for path in one_line:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                yield [words[1]], [words[2]]
    for path in sorted(sources_dir.glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                yield fields.get("uris", "").split(), fields.get("suites", "").split()


def archive(
    suite: str | None = None,
    *,
    sources_list: Path = SOURCES_LIST,
    sources_dir: Path = SOURCES_DIR,
) -> str:
    """The Debian archive apt on this machine takes its release from, so that the chroot
    comes from the same place (no host is named in the code): the entry whose suites hold
    the machine's release itself, not its -updates or -security."""
    suite = suite or machine_suite()
    for uris, suites in _entries(sources_list, sources_dir):
        if suite in suites and uris:
            return uris[0]
    raise ChrootUnavailableError(
        f"no `deb` entry for {suite!r} in {sources_list} or {sources_dir}/: the chroot is made"
        " from the Debian archive apt uses here"
    )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time per cache, whatever else runs the tests on this checkout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def install_hint(line: Line) -> str:
    return (
        f"RabbitMQ {line.name} comes with Debian {line.debian} ({line.suite}); as root on"
        " Debian or Ubuntu, `apt-get install debootstrap` and the tests make that release"
        f" into a chroot in {CACHE.relative_to(PROJECT_ROOT)}/ themselves, or on Debian"
        f" {line.debian} `apt-get install rabbitmq-server`"
    )


def chroot(line: Line, *, timeout: float = 600) -> Path:
    """The chroot holding `line`'s Debian release with rabbitmq-server, made once and kept."""
    root = CACHE / line.suite
    if (root / COMPLETE).is_file():
        return root
    debootstrap = shutil.which("debootstrap", path=f"/usr/sbin:/sbin:{os.environ.get('PATH', '')}")
    if debootstrap is None:
        raise ChrootUnavailableError("debootstrap is not installed")
    if os.geteuid() != 0:
        raise ChrootUnavailableError("debootstrap and chroot need root")
    mirror = archive()
    with _locked(CACHE / f"{line.suite}.lock"):
        if (root / COMPLETE).is_file():
            return root
        partial = CACHE / f"{line.suite}.partial"
        _remove(partial)
        result = subprocess.run(
            [
                debootstrap,
                "--variant=minbase",
                "--include=rabbitmq-server",
                line.suite,
                str(partial),
                mirror,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise ChrootUnavailableError(f"debootstrap {line.suite} failed:\n{tail}")
        (partial / COMPLETE).write_text(f"{line.suite} from {mirror}\n")
        _remove(root)
        partial.rename(root)
    return root


def _remove(path: Path) -> None:
    """Delete a chroot, never what is mounted inside it (a /proc left by a killed run)."""
    if not path.exists():
        return
    proc = path / "proc"
    if os.path.ismount(proc):
        subprocess.run(["umount", "--lazy", str(proc)], check=True, timeout=60)
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True, timeout=300)
