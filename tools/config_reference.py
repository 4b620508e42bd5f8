"""Write the configuration reference, docs/configuration.md, from the props the loader walks.

Why: a hand-written table drifts from the code. Every row here comes from a declared props
field (constructs_lib/props.py): key, type, whether it is required, default, allowed range
and meaning. The loader reads the same fields, and the constructs check the same rules, so
the three cannot drift apart.

    python -m tools.config_reference docs/configuration.md   # rewrites the marked section
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs_lib.props import Field, fields_of
from constructs_lib.registry import backends, ways
from stacks.settings import STATE_BACKEND_MEANING, STATE_BACKENDS, Deployment, EnvironmentSettings

START = "<!-- config-reference:start (make docs) -->"
END = "<!-- config-reference:end -->"
_TYPES = {str: "string", int: "integer", bool: "bool"}


@dataclass(frozen=True)
class Row:
    """One key of the reference table."""

    key: str
    kind: type
    required: str
    default: str
    allowed: str
    meaning: str


def _default(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"{value}"


def _row(key: str, field: Field, required: str) -> Row:
    if not field.setting.meaning.strip():
        raise ValueError(f"{key} has no meaning; give its setting() one")
    default = _default(field.default)
    for environment, value in field.setting.by_environment.items():
        default += f"; {_default(value)} in {environment}"
    if field.setting.required:
        when = "yes" if required == "always" else required
    elif field.setting.required_in:
        when = "in " + " and ".join(sorted(field.setting.required_in))
    else:
        when = "no"
    return Row(
        key=key,
        kind=field.kind,
        required=when,
        default=default,
        allowed=field.setting.rule.describe() if field.setting.rule is not None else "",
        meaning=field.setting.meaning,
    )


def _state_rows() -> list[Row]:
    """The state table's keys, merged over the backends that share a key (`bucket`)."""
    rows: dict[str, Row] = {}
    for props in STATE_BACKENDS.values():
        for field in fields_of(props):
            row = _row(f"[state] {field.name}", field, "for its backend")
            if row.key in rows:
                first = rows[row.key]
                row = Row(
                    row.key,
                    row.kind,
                    row.required,
                    row.default,
                    f"{first.allowed}; or {row.allowed}",
                    f"{first.meaning} or {row.meaning}",
                )
            rows[row.key] = row
    backend = Row("[state] backend", str, "yes", "", "", STATE_BACKEND_MEANING)
    return [backend, *rows.values()]


def rows() -> list[Row]:
    """Every key a config file may hold, in the order of the props that declare it."""
    result = [_row(field.name, field, "always") for field in fields_of(EnvironmentSettings)]
    result += _state_rows()
    for backend in backends():
        result.append(Row(f"[{backend.key}] enabled", bool, "yes", "", "", backend.switch))
        if len(ways(backend)) > 1:
            # Only where the backend has an emulator to be loaded into: named here.
            [deploy] = fields_of(Deployment)
            row = _row(f"[{backend.key}] {deploy.name}", deploy, "if enabled")
            result.append(dataclasses.replace(row, meaning=f"{row.meaning} {backend.emulator}"))
        result += [
            _row(f"[{backend.key}] {field.name}", field, "if enabled")
            for field in fields_of(backend.props)
            if field.setting.config
        ]
    return result


def table(rows: Iterable[Row]) -> str:
    lines = [
        "| key | type | required | default | allowed | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        cells = (f"`{row.key}`", _TYPES[row.kind], row.required, row.default, row.allowed)
        lines.append("| " + " | ".join(cells) + f" | {row.meaning} |")
    return "\n".join(lines) + "\n"


def rewrite(page: str) -> str:
    """`page` with the text between the markers replaced by the current table."""
    before, start, rest = page.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the page has no {START} ... {END} section")
    return f"{before}{START}\n{table(rows())}{END}{after}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    args = parser.parse_args(argv)
    text = args.page.read_text(encoding="utf-8")
    updated = rewrite(text)
    if updated != text:
        args.page.write_text(updated, encoding="utf-8")
        print(f"updated the configuration reference in {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
