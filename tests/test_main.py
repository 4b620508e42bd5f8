"""`python main.py` as the cdktf CLI runs it, and as a person runs it from the virtualenv:
clear errors, no partial output, same bytes, and nothing printed but the answer."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import main
from constructs_lib import limits
from constructs_lib.limits import NameRule
from stacks.settings import ENVIRONMENTS
from tests.synth_helpers import copy_app

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _at_a_prompt() -> dict[str, str]:
    """The environment of a shell where the virtualenv's Python is run by hand: none of
    what make sets (the project's Node first on PATH, NODE_OPTIONS, JSII_NODE), and no
    terminal; the machine's own Node (20 here) is what `node` finds."""
    node_bin = str(PROJECT_ROOT / "node_modules" / ".bin")
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("NODE_OPTIONS", "JSII_NODE", "CDKTF_OUTDIR", "CI")
    }
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != node_bin)
    return env


def _run_main(checkout: Path, outdir: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    # A clone has its own node_modules, where `make install` put the project's Node.
    if not (checkout / "node_modules").exists():
        (checkout / "node_modules").symlink_to(PROJECT_ROOT / "node_modules")
    env = {**_at_a_prompt(), "CDKTF_OUTDIR": str(outdir), "PYTHONPATH": str(checkout)}
    return subprocess.run(
        [sys.executable, "main.py"],
        cwd=checkout,
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_two_checkouts_at_different_paths_synthesize_identical_bytes(tmp_path: Path) -> None:
    first = copy_app(tmp_path / "a")
    second = copy_app(tmp_path / "somewhere" / "much" / "deeper" / "b")
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(_run_main, (first, second), (first / "cdktf.out", tmp_path / "out-b")))
    for run in runs:
        assert run.returncode == 0, run.stderr
        # No end-of-life banner from jsii, no Node deprecation warning: nothing at all.
        assert (run.stdout, run.stderr) == ("", "")
    first_tree = _tree(first / "cdktf.out")
    assert first_tree == _tree(tmp_path / "out-b")
    assert {f"stacks/{env}/cdk.tf.json" for env in ENVIRONMENTS} <= set(first_tree)


@pytest.mark.parametrize("ci", [{}, {"CI": "true"}])
def test_bad_config_exits_non_zero_with_one_line_and_writes_nothing(
    tmp_path: Path, ci: dict[str, str]
) -> None:
    checkout = copy_app(tmp_path / "app")
    dev = checkout / "config" / "dev.toml"
    dev.write_text(dev.read_text().replace("workers = 3", "workers = 0"))
    outdir = checkout / "cdktf.out"
    run = _run_main(checkout, outdir, **ci)
    assert run.returncode == 2
    assert (run.stdout, run.stderr) == (
        "",
        "error: config/dev.toml: workers = 0 is not allowed; expected an integer from 1 to 1000\n",
    )
    assert not outdir.exists()


def test_an_error_found_while_building_removes_the_folder_it_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A queue name rule that only the constructs check (names are not config keys): the
    # config loads, and the error comes while the stacks are built.
    monkeypatch.setattr(limits, "SQS_QUEUE_NAME", NameRule(r"[a-z]{1,3}", "1 to 3 letters"))
    monkeypatch.setattr(main, "CONFIG_DIR", PROJECT_ROOT / "config")
    outdir = tmp_path / "cdktf.out"
    monkeypatch.setenv("CDKTF_OUTDIR", str(outdir))

    assert main.main() == 2
    assert capsys.readouterr().err == (
        "error: dev/Default: SqsTaskChannel.name = 'mlTrainingQueue-dev' is not allowed;"
        " expected a name that makes 'mlTrainingQueue-dev-worker-3' 1 to 3 letters\n"
    )
    assert not outdir.exists()
