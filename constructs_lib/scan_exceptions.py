"""Record, on the resource itself, why a static security check does not apply to it.

Why here and not in a global skip list: an exception belongs next to the code that makes
the resource, with its reason, and applies to that resource only. checkov cannot read
inline suppressions in Terraform JSON, so the reason goes into the resource's `//` comment
block, which Terraform ignores, and `tools/checkov_scan.py` honours it and prints it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # cdktf starts a node process on import; tools/checkov_scan.py needs none.
    from cdktf import TerraformResource

COMMENT_KEY = "checkov_skip"


def skip_check(resource: TerraformResource, check_id: str, *, reason: str) -> None:
    """Mark `check_id` as not applying to `resource`, for `reason` (shown in every scan)."""
    if not reason.strip():
        raise ValueError(f"skipping {check_id} needs a reason")
    resource.add_override(f"//.{COMMENT_KEY}.{check_id}", reason)
