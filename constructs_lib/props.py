"""Settings declared once: each props field carries its default, its rule and its meaning.

Why: a setting used to be written in up to seven places (loader default and rule, stack
pass-through, construct default and rule again, docs). Now a construct's frozen props
dataclass is the one declaration. The config loader walks its fields to read the TOML, the
construct checks the same rules, and `make docs` prints the same meanings, defaults and
ranges. Rules between fields (FIFO before deduplication, backoff order) are written once
beside the props, as `CrossRule`s, and both callers report them in their own terms: the
loader names file and key, the construct names its path and field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from constructs_lib import limits
from constructs_lib.limits import show

_SETTING = "ml_queues_setting"
_INLINE = "ml_queues_inline"


@dataclass(frozen=True)
class FromEnvironment:
    """A field the environment sets for every backend at once (the task duration, the worker
    count), with the name of what it becomes here and what to do beyond this backend's cap."""

    key: str
    becomes: str = ""
    advice: str = ""


@dataclass(frozen=True)
class Setting:
    """What a field means and what it may hold.

    `config`: read from the environment's config table; False for what the stack decides
    (names) or the environment sets (`from_environment`).
    `required`: must be given when the backend is enabled (fields without a default).
    `by_environment`: defaults that differ per environment name, such as prod's.
    `required_in`: environments whose config must give it (say "none" explicitly, for one).
    """

    meaning: str
    rule: limits.Rule | None
    config: bool
    required: bool
    from_environment: FromEnvironment | None
    by_environment: Mapping[str, Any]
    required_in: frozenset[str]


def setting(
    default: Any = dataclasses.MISSING,
    *,
    meaning: str,
    rule: limits.Rule | None = None,
    config: bool = True,
    from_environment: FromEnvironment | None = None,
    by_environment: Mapping[str, Any] | None = None,
    required_in: frozenset[str] = frozenset(),
) -> Any:
    """A props field: `x: int = setting(5, rule=..., meaning="...")`; no default: required."""
    meta = Setting(
        meaning=meaning,
        rule=rule,
        config=config and from_environment is None,
        required=default is dataclasses.MISSING,
        from_environment=from_environment,
        by_environment=dict(by_environment or {}),
        required_in=required_in,
    )
    return dataclasses.field(default=default, metadata={_SETTING: meta})


def inline(props: type) -> Any:
    """A nested props field whose settings sit in the same config table as its parent's."""
    return dataclasses.field(default_factory=props, metadata={_INLINE: props})


@dataclass(frozen=True)
class CrossRule:
    """A rule on `field` that depends on other fields.

    `expected` gets every value by field name and returns what `field` should be instead
    ("expected ..."), or None when the values agree.
    """

    field: str
    expected: Callable[[Mapping[str, Any]], str | None]


class Props(Protocol):
    """A props dataclass; `CROSS_RULES` are its rules between fields."""

    CROSS_RULES: ClassVar[tuple[CrossRule, ...]]
    __dataclass_fields__: ClassVar[dict[str, Any]]


@dataclass(frozen=True)
class Field:
    """One setting as the loader, the construct and the docs see it."""

    name: str
    kind: type
    optional: bool
    default: Any
    setting: Setting


def _kind(annotation: Any) -> tuple[type, bool]:
    """`int` -> (int, False); `str | None` -> (str, True)."""
    if isinstance(annotation, types.UnionType):
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        return members[0], True
    return annotation, False


def fields_of(props: type) -> Iterator[Field]:
    """Every declared setting of `props`, with those of inline props in their place."""
    hints = typing.get_type_hints(props)
    for field in dataclasses.fields(props):
        if _INLINE in field.metadata:
            yield from fields_of(field.metadata[_INLINE])
        elif _SETTING in field.metadata:
            kind, optional = _kind(hints[field.name])
            default = None if field.default is dataclasses.MISSING else field.default
            yield Field(field.name, kind, optional, default, field.metadata[_SETTING])


def inline_fields(props: type) -> Iterator[tuple[str, type]]:
    """The inline props of `props`: (field name, props class)."""
    for field in dataclasses.fields(props):
        if _INLINE in field.metadata:
            yield field.name, field.metadata[_INLINE]


def cross_rules(props: type) -> tuple[CrossRule, ...]:
    rules: tuple[CrossRule, ...] = getattr(props, "CROSS_RULES", ())
    for _, inner in inline_fields(props):
        rules += cross_rules(inner)
    return rules


def values_of(props: object) -> dict[str, Any]:
    """Every setting's value by name, inline props flattened, as the config table holds them."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(props):  # type: ignore[arg-type]
        value = getattr(props, field.name)
        if _INLINE in field.metadata:
            values.update(values_of(value))
        elif _SETTING in field.metadata:
            values[field.name] = value
    return values


def first_violation(
    props: type, values: Mapping[str, Any], *, among: Collection[str] | None = None
) -> tuple[str, str] | None:
    """The first field (of `among`, when given) whose value breaks a rule between fields, and
    what was expected."""
    for rule in cross_rules(props):
        if among is not None and rule.field not in among:
            continue
        expected = rule.expected(values)
        if expected is not None:
            return rule.field, expected
    return None


def check_props(props: object, *, owner: str, where: str) -> None:
    """Raise LimitError naming `where`, `owner` (the construct) and the field, for the first
    value that breaks its own rule or a rule between fields.

    Each construct calls this on the props it is given, so a value that did not come
    through the config loader is held to the same limits.
    """
    values = values_of(props)
    for field in fields_of(type(props)):
        value = values[field.name]
        if field.setting.rule is not None and value is not None:
            limits.check(value, field.setting.rule, field=f"{owner}.{field.name}", where=where)
    violation = first_violation(type(props), values)
    if violation is not None:
        name, expected = violation
        found = "is unset" if values[name] is None else f"= {show(values[name])} is not allowed"
        raise limits.LimitError(f"{where}: {owner}.{name} {found}; {expected}")
