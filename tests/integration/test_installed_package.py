"""The construct library as another app gets it: a wheel built from the checkout, installed
with pip into a fresh virtualenv outside it, running the README's own-app example there.

The dependencies come from the package index (or pip's cache), as for a user: nothing of the
project's .venv is visible to the new one. `--no-compile` leaves the ~800 MB of provider
bindings uncompiled, which cuts the install from about two minutes to about ten seconds;
Python compiles the modules the example imports when it imports them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.docs.own_app_stack import EXAMPLE, STACK, check_seed_systems
from tests.integration.harness import require

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DISTRIBUTION = "ml-queues-constructs"
NODE_LTS = PROJECT_ROOT / "node_modules" / ".bin" / "node"


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _clone(target: Path) -> Path:
    """The checkout's files as a clone has them (tracked, and new ones not ignored), so that
    building leaves nothing in the checkout and nothing ignored gets into the wheel."""
    require(shutil.which("git") is not None, "git", "apt-get install git")
    listed = _run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], PROJECT_ROOT
    )
    for name in filter(None, listed.split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("installed-package")
    assert not path.is_relative_to(PROJECT_ROOT)
    return path


@pytest.fixture(scope="module")
def wheel(work: Path) -> Path:
    source = _clone(work / "checkout")
    dist = work / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(source)],
        work,
    )
    (built,) = dist.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv_python(work: Path, wheel: Path) -> Path:
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], work)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--no-compile", str(wheel)], work)
    return python


@pytest.fixture(scope="module")
def user_env() -> dict[str, str]:
    """A user's environment: nothing that points Python at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    if NODE_LTS.exists():
        env["JSII_NODE"] = str(NODE_LTS)
    env["NODE_OPTIONS"] = "--disable-warning=DEP0044"
    env["CHECKPOINT_DISABLE"] = "1"
    return env


def test_the_wheel_holds_the_constructs_and_nothing_of_the_app(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    modules = {
        path.relative_to(PROJECT_ROOT).as_posix()
        for path in (PROJECT_ROOT / "constructs_lib").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert modules <= set(names)
    assert "constructs_lib/py.typed" in names
    outside = [n for n in names if not n.startswith(("constructs_lib/", "ml_queues_constructs-"))]
    assert outside == []


def test_the_installed_package_is_the_one_imported(
    venv_python: Path, user_env: dict[str, str], work: Path
) -> None:
    app_dir = work / "app"
    app_dir.mkdir(exist_ok=True)
    probe = (
        "import importlib.metadata, importlib.util, constructs_lib\n"
        "print(constructs_lib.__file__)\n"
        f"print(importlib.metadata.version({DISTRIBUTION!r}), constructs_lib.__version__)\n"
        "print(importlib.util.find_spec('stacks'), importlib.util.find_spec('tools'))\n"
    )
    where, versions, app_modules = _run(
        [str(venv_python), "-c", probe], app_dir, user_env
    ).splitlines()
    assert Path(where).is_relative_to(venv_python.parent.parent)
    installed, declared = versions.split()
    assert installed == declared
    assert app_modules == "None None"
    _run([str(venv_python), "-m", "pip", "check"], app_dir, user_env)


def test_the_readme_example_synthesizes_there(
    venv_python: Path, user_env: dict[str, str], work: Path
) -> None:
    app_dir = work / "app"
    app_dir.mkdir(exist_ok=True)
    shutil.copy(EXAMPLE, app_dir / EXAMPLE.name)
    _run([str(venv_python), EXAMPLE.name], app_dir, user_env)
    stack = json.loads((app_dir / "cdktf.out" / "stacks" / STACK / "cdk.tf.json").read_text())
    check_seed_systems(stack)
