"""The fast provider import: taken, equivalent (the snapshots), and loud when the layout changes."""

from __future__ import annotations

import ast
import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest

from constructs_lib import providers


def test_only_the_used_submodules_are_imported() -> None:
    loaded: dict[str, set[str]] = {package: set() for package in providers.PACKAGES}
    for name in sys.modules:
        package, _, rest = name.partition(".")
        if package in loaded and rest:
            loaded[package].add(rest.split(".")[0])
    # Of ~2,100 AWS and ~1,000 Google resource modules, only what the stacks use.
    assert loaded == {
        "cdktf_cdktf_provider_aws": {
            "_jsii",
            "provider",
            "cloudwatch_metric_alarm",
            "iam_role_policy",
            "sns_topic",
            "sns_topic_policy",
            "sns_topic_subscription",
            "sqs_queue",
            "ssm_parameter",
            "data_aws_caller_identity",
            "data_aws_partition",
            "data_aws_region",
            "data_aws_ssm_parameter",
        },
        "cdktf_cdktf_provider_google": {
            "_jsii",
            "provider",
            "data_google_project",
            "kms_crypto_key_iam_member",
            "monitoring_alert_policy",
            "monitoring_notification_channel",
            "pubsub_topic",
            "pubsub_topic_iam_member",
            "pubsub_subscription",
            "pubsub_subscription_iam_member",
        },
    }


@pytest.mark.parametrize("package", providers.PACKAGES)
def test_the_installed_packages_have_the_expected_layout(package: str) -> None:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None
    providers._check_layout(package, Path(spec.origin))


@pytest.mark.parametrize(
    "statement",
    ["helper = make_helper()", "if True:\n    pass", "print('side effect')", "class Base: pass"],
)
def test_an_init_that_does_more_than_import_is_refused(tmp_path: Path, statement: str) -> None:
    init = tmp_path / "__init__.py"
    init.write_text(f"import jsii\nfrom . import sqs_queue\n{statement}\n__all__ = []\n")
    with pytest.raises(providers.ProviderLayoutError, match=r"line 3 does something .* not expect"):
        providers._check_layout("fake_provider", init)


def test_a_package_without_its_jsii_module_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "fake_provider_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from . import thing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(providers.ProviderLayoutError, match="has no _jsii module"):
        providers.register_bare_package("fake_provider_pkg")
    assert "fake_provider_pkg" not in sys.modules


def test_a_missing_package_says_how_to_install_it() -> None:
    with pytest.raises(providers.ProviderLayoutError, match="run `make install`"):
        providers.register_bare_package("cdktf_cdktf_provider_not_installed")


def _provider_modules_imported(root: Path, paths: list[str]) -> set[str]:
    """Every provider submodule that a module mypy checks imports."""
    files = [root / p for p in paths if p.endswith(".py")]
    files += [f for p in paths if (root / p).is_dir() for f in (root / p).rglob("*.py")]
    imported: set[str] = set()
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            imported |= {n for n in names if n.partition(".")[0] in providers.PACKAGES and "." in n}
    return imported


def test_mypy_checks_in_full_every_provider_module_the_code_imports() -> None:
    """mypy skips the provider packages (their `__init__` would make it check ~3,100 modules)
    but for the modules listed with `follow_imports = "normal"`: a module the code imports
    that the list lacked would be unchecked (Any) without a word, so the two must agree."""
    root = Path(__file__).resolve().parent.parent.parent
    mypy = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    checked = {
        module
        for override in mypy["overrides"]
        if override.get("follow_imports") == "normal"
        for module in override["module"]
    }
    skipped = {
        module
        for override in mypy["overrides"]
        if override.get("follow_imports") == "skip"
        for module in override["module"]
    }
    assert skipped == {f"{package}.*" for package in providers.PACKAGES}
    assert checked == _provider_modules_imported(root, mypy["files"])
