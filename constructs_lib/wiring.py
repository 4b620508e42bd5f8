"""What a producer and each worker need from a channel, per backend, as typed classes.

Why typed: the stacks output these as one value per producer and worker, `make worker-env`
turns them into `.env` lines, and the docs examples read those variables. With the names
declared once, in each backend's `backend.py`, the three cannot drift: a renamed field
renames the variable everywhere, and a test holds the examples to these names.

No cdktf import here: `make worker-env` reads deployed state and needs no jsii runtime.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class Wiring:
    """`BACKEND` is the key in the wiring output, `ENV_PREFIX` starts each variable name."""

    BACKEND: ClassVar[str]
    ENV_PREFIX: ClassVar[str]

    def output(self) -> dict[str, Any]:
        """The value of this backend's part of a wiring output."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Field name -> the `.env` variable `make worker-env` prints for it."""
        return {
            field.name: f"{cls.ENV_PREFIX}_{field.name.upper()}"
            for field in dataclasses.fields(cls)
        }


def output(wirings: list[Wiring]) -> dict[str, dict[str, Any]]:
    """One producer's or worker's output value: each backend's wiring under its key."""
    return {wiring.BACKEND: wiring.output() for wiring in wirings}
