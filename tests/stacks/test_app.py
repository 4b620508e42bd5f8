"""Snapshots of every stack's `cdk.tf.json`, byte for byte as `cdktf synth` writes it.

The snapshot files under `__snapshots__/test_app/` are the exact JSON Terraform gets, so a
change to them in a diff is a change to the infrastructure: review it like code. So are
those of the emulated parts (`test_emulated_part_snapshot[<env>]`), the JSON the emulator
loaders get. Refresh them with `make snapshot-update` after an intended change.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension

from stacks.settings import EMULATED, ENVIRONMENTS, load_all

PROJECT_CONFIG = Path(__file__).resolve().parent.parent.parent / "config"
WITH_EMULATED_PART = [env.name for env in load_all(PROJECT_CONFIG) if env.has_part("emulator")]


class TerraformJsonSnapshot(SingleFileSnapshotExtension):
    file_extension = "json"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_stack_snapshot(synth_dir: Path, env: str, snapshot: SnapshotAssertion) -> None:
    written = (synth_dir / "stacks" / env / "cdk.tf.json").read_bytes()
    assert written == snapshot(extension_class=TerraformJsonSnapshot)


@pytest.mark.parametrize("env", WITH_EMULATED_PART)
def test_emulated_part_snapshot(synth_dir: Path, env: str, snapshot: SnapshotAssertion) -> None:
    written = (synth_dir / EMULATED / "stacks" / env / "cdk.tf.json").read_bytes()
    assert written == snapshot(extension_class=TerraformJsonSnapshot)


def test_synthesized_json_holds_no_machine_specific_path(synth_dir: Path) -> None:
    paths = [*synth_dir.glob("stacks/*/cdk.tf.json"), *synth_dir.glob("*/stacks/*/cdk.tf.json")]
    assert len(paths) == len(ENVIRONMENTS) + len(WITH_EMULATED_PART)
    for path in paths:
        text = path.read_text()
        assert str(synth_dir) not in text
        assert str(Path.cwd()) not in text
        assert str(Path.home()) not in text
