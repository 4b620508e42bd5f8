"""`python main.py` as the cdktf CLI runs it: clear errors, no partial output, same bytes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import main
from constructs_lib.limits import NameRule
from stacks import settings
from tests.synth_helpers import copy_app

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _run_main(checkout: Path, outdir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDKTF_OUTDIR": str(outdir), "PYTHONPATH": str(checkout)}
    return subprocess.run(
        [sys.executable, "main.py"],
        cwd=checkout,
        env=env,
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
    first_tree = _tree(first / "cdktf.out")
    assert first_tree == _tree(tmp_path / "out-b")
    assert {f"stacks/{env}/cdk.tf.json" for env in settings.ENVIRONMENTS} <= set(first_tree)


def test_bad_config_exits_non_zero_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    checkout = copy_app(tmp_path / "app")
    dev = checkout / "config" / "dev.toml"
    dev.write_text(dev.read_text().replace("workers = 3", "workers = 0"))
    outdir = checkout / "cdktf.out"
    run = _run_main(checkout, outdir)
    assert run.returncode == 2
    assert run.stderr == (
        "error: config/dev.toml: workers = 0 is not allowed; expected an integer >= 1\n"
    )
    assert "Traceback" not in run.stdout + run.stderr
    assert not outdir.exists()


def test_an_error_found_while_building_removes_the_folder_it_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A suffix the config accepts but SQS does not (queue names stop at 80 characters).
    long_suffix = "x" * 70
    monkeypatch.setattr(settings, "NAME_SUFFIX", NameRule(r"[a-z]+", "letters"))
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    dev = config / "dev.toml"
    dev.write_text(dev.read_text().replace('name_suffix = "dev"', f'name_suffix = "{long_suffix}"'))
    monkeypatch.setattr(main, "CONFIG_DIR", config)
    outdir = tmp_path / "cdktf.out"
    monkeypatch.setenv("CDKTF_OUTDIR", str(outdir))

    assert main.main() == 2
    assert capsys.readouterr().err == (
        f"error: environment 'dev': SqsTaskQueue.name = 'mlTrainingQueue-{long_suffix}' is not"
        " allowed; expected 1 to 80 characters: letters, digits, hyphens and underscores\n"
    )
    assert not outdir.exists()
