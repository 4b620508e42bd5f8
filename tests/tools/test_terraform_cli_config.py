from __future__ import annotations

from pathlib import Path

import pytest

from tools import terraform_cli_config


def _mirror(tmp_path: Path) -> Path:
    (tmp_path / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0").mkdir(parents=True)
    return tmp_path


def test_mirror_serves_what_it_holds_and_the_registry_the_rest(tmp_path: Path) -> None:
    text = terraform_cli_config.render(_mirror(tmp_path))
    assert f'path    = "{tmp_path}"' in text
    assert 'include = ["registry.terraform.io/hashicorp/aws"]' in text
    assert 'exclude = ["registry.terraform.io/hashicorp/aws"]' in text


def test_without_a_mirror_nothing_changes() -> None:
    assert "provider_installation" not in terraform_cli_config.render(None)


def test_a_folder_that_is_not_a_mirror_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"has no registry\.terraform\.io folder"):
        terraform_cli_config.render(tmp_path)


def test_command_reads_the_mirror_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TF_PLUGIN_MIRROR", str(_mirror(tmp_path / "mirror")))
    output = tmp_path / "out" / "terraform.rc"
    assert terraform_cli_config.main([str(output)]) == 0
    assert "filesystem_mirror" in output.read_text()
