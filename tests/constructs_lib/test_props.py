"""The declaration machinery every construct, the loader and the docs rely on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from cdktf import TerraformStack, TerraformVariable

from constructs_lib import limits
from constructs_lib.limits import show
from constructs_lib.props import (
    CrossRule,
    FromEnvironment,
    check_props,
    fields_of,
    first_violation,
    inline,
    setting,
    values_of,
)


def _low_below_high(values: Mapping[str, Any]) -> str | None:
    if values["high"] < values["low"]:
        return f"expected at least low = {values['low']}"
    return None


@dataclass(frozen=True, kw_only=True)
class Inner:
    CROSS_RULES: ClassVar[tuple[CrossRule, ...]] = (CrossRule("high", _low_below_high),)

    low: int = setting(1, rule=limits.IntRange(0, 10), meaning="lower end")
    high: int = setting(5, rule=limits.IntRange(0, 10), meaning="upper end")


@dataclass(frozen=True, kw_only=True)
class Outer:
    CROSS_RULES: ClassVar[tuple[CrossRule, ...]] = ()

    region: str = setting(rule=limits.AWS_REGION, meaning="where")
    label: str | None = setting(None, rule=limits.IAM_ROLE, meaning="optional")
    name: str = setting("n", config=False, meaning="set by the stack")
    duration: int = setting(
        30,
        rule=limits.IntRange(1, 60),
        from_environment=FromEnvironment("max_task_duration_seconds", "a cap", "advice"),
        meaning="from the environment",
    )
    inner: Inner = inline(Inner)


def test_fields_flatten_inline_props_and_carry_their_declaration() -> None:
    fields = {field.name: field for field in fields_of(Outer)}
    assert list(fields) == ["region", "label", "name", "duration", "low", "high"]
    assert fields["region"].setting.required and not fields["label"].setting.required
    assert (fields["label"].kind, fields["label"].optional) == (str, True)
    assert (fields["low"].kind, fields["low"].default) == (int, 1)
    assert not fields["name"].setting.config
    # What the environment sets is not read from the backend's table either.
    assert not fields["duration"].setting.config
    assert values_of(Outer(region="eu-west-1")) == {
        "region": "eu-west-1",
        "label": None,
        "name": "n",
        "duration": 30,
        "low": 1,
        "high": 5,
    }


def test_check_names_owner_field_value_and_rule() -> None:
    with pytest.raises(limits.LimitError) as error:
        check_props(Outer(region="eu-west-1", duration=61), owner="Thing", where="app/thing")
    assert str(error.value) == (
        "app/thing: Thing.duration = 61 is not allowed; expected an integer from 1 to 60"
    )


def test_rules_between_fields_of_inline_props_are_checked_too() -> None:
    props = Outer(region="eu-west-1", inner=Inner(low=6, high=4))
    with pytest.raises(limits.LimitError) as error:
        check_props(props, owner="Thing", where="app/thing")
    assert str(error.value) == (
        "app/thing: Thing.high = 4 is not allowed; expected at least low = 6"
    )
    assert first_violation(Outer, values_of(props), among=["region"]) is None


def test_unset_optional_values_and_tokens_are_not_checked(stack: TerraformStack) -> None:
    """A token is another resource's attribute: Terraform knows its value, not the build."""
    check_props(Outer(region="eu-west-1"), owner="Thing", where="w")
    region = TerraformVariable(stack, "region", type="string").string_value
    check_props(Outer(region=region), owner="Thing", where="w")


def test_values_are_shown_as_the_config_file_writes_them() -> None:
    assert (show(True), show(False), show(3), show("a")) == ("true", "false", "3", "'a'")
