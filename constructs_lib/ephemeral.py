"""Terraform `ephemeral` blocks, which cdktf 0.21 has no construct for.

Why: an ephemeral resource's value lives for one plan or apply and is never written to the
plan or the state, and Terraform prints nothing of it. That is what a generated password
needs before it goes into a write-only argument (`aws_ssm_parameter.value_wo`). cdktf
cannot make the block, so it is written here, typed, as a stack override: the only place
that knows its JSON shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformProvider, TerraformStack


@dataclass(frozen=True, kw_only=True)
class EphemeralRandomPassword:
    """hashicorp/aws's ephemeral `aws_secretsmanager_random_password` (provider 5.83 and
    later): Secrets Manager's GetRandomPassword, asked anew at every plan and apply."""

    TYPE = "aws_secretsmanager_random_password"

    password_length: int
    exclude_punctuation: bool

    def add_to(
        self, stack: TerraformStack, name: str, *, provider: TerraformProvider | None = None
    ) -> str:
        """Write the block `ephemeral.<TYPE>.<name>` into `stack`; return a reference to the
        password, which only ephemeral contexts and write-only arguments accept."""
        body: dict[str, object] = {
            "password_length": self.password_length,
            "exclude_punctuation": self.exclude_punctuation,
        }
        if provider is not None:
            body["provider"] = provider.fqn
        stack.add_override(f"ephemeral.{self.TYPE}.{name}", body)
        return f"${{ephemeral.{self.TYPE}.{name}.random_password}}"
