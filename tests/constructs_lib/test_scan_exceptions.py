from __future__ import annotations

import pytest
from cdktf import TerraformStack

from constructs_lib.providers import SqsQueue
from constructs_lib.scan_exceptions import skip_check


def test_a_skip_needs_a_reason(stack: TerraformStack) -> None:
    queue = SqsQueue(stack, "q", name="q")
    with pytest.raises(ValueError, match="skipping CKV_AWS_27 needs a reason"):
        skip_check(queue, "CKV_AWS_27", reason=" ")
