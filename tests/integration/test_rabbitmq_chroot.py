"""Where the chroot of another Debian release comes from, and what a machine without it hears.

The archive is read from apt's own sources, in both of their forms, so that no package host
is named in the code and the chroot comes from where the machine's packages come from.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration import rabbitmq_chroot
from tests.integration.rabbitmq_chroot import (
    LINES,
    ChrootUnavailableError,
    archive,
    chroot,
    install_hint,
    machine_suite,
)

DEB822 = """\
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def _nowhere(name: str, path: str | None = None) -> None:
    """`shutil.which` on a machine without the tool."""


def _sources(tmp_path: Path, *, one_line: str = "", deb822: str = "") -> dict[str, Path]:
    sources_dir = tmp_path / "sources.list.d"
    sources_dir.mkdir()
    (tmp_path / "sources.list").write_text(one_line)
    if deb822:
        (sources_dir / "debian.sources").write_text(deb822)
    (sources_dir / "other.list.disabled").write_text("deb http://elsewhere.example/ x main\n")
    return {"sources_list": tmp_path / "sources.list", "sources_dir": sources_dir}


def test_the_archive_is_the_deb822_entry_of_the_machine_s_own_release(tmp_path: Path) -> None:
    """Not its -updates or -security entry, nor a disabled file."""
    paths = _sources(tmp_path, deb822=DEB822)
    assert archive("bookworm", **paths) == "http://mirror.example/debian"


def test_the_archive_is_read_from_a_one_line_sources_list_too(tmp_path: Path) -> None:
    one_line = (
        "# deb http://commented.example/debian trixie main\n"
        "deb-src http://source.example/debian trixie main\n"
        "deb [signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian trixie main\n"
    )
    paths = _sources(tmp_path, one_line=one_line)
    assert archive("trixie", **paths) == "http://mirror.example/debian"


def test_without_an_entry_for_the_release_the_chroot_is_unavailable(tmp_path: Path) -> None:
    paths = _sources(tmp_path, deb822=DEB822)
    with pytest.raises(ChrootUnavailableError, match="no `deb` entry for 'trixie'"):
        archive("trixie", **paths)


def test_the_machine_s_release_comes_from_os_release(tmp_path: Path) -> None:
    os_release = tmp_path / "os-release"
    os_release.write_text('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    assert machine_suite(os_release) == "bookworm"
    os_release.write_text('ID=fedora\nVERSION_ID="41"\n')
    assert machine_suite(os_release) is None
    assert machine_suite(tmp_path / "missing") is None


def test_without_debootstrap_the_tests_say_how_to_get_the_other_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    [four] = [line for line in LINES if line.name == "4.0"]
    assert install_hint(four) == (
        "RabbitMQ 4.0 comes with Debian 13 (trixie); as root on Debian or Ubuntu, `apt-get"
        " install debootstrap` and the tests make that release into a chroot in"
        " .cache/rabbitmq-chroots/ themselves, or on Debian 13 `apt-get install rabbitmq-server`"
    )
    monkeypatch.setattr(rabbitmq_chroot, "CACHE", tmp_path / "chroots")
    monkeypatch.setattr("shutil.which", _nowhere)
    with pytest.raises(ChrootUnavailableError, match="debootstrap is not installed"):
        chroot(four)


def test_a_finished_chroot_is_used_again_without_debootstrap(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A finished chroot is kept between runs; one a build left half-made is not used."""
    monkeypatch.setattr(rabbitmq_chroot, "CACHE", tmp_path)
    monkeypatch.setattr("shutil.which", _nowhere)
    [four] = [line for line in LINES if line.name == "4.0"]
    (tmp_path / "trixie").mkdir()
    with pytest.raises(ChrootUnavailableError):
        chroot(four)
    (tmp_path / "trixie" / rabbitmq_chroot.COMPLETE).write_text("trixie\n")
    assert chroot(four) == tmp_path / "trixie"
