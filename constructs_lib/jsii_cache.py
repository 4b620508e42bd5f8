"""Facts about a resource that never change once it exists, read from the jsii runtime once.

Why: every property read of a cdktf object is a round trip to the node process that holds
the construct tree. At 1,000 workers the stacks have about 20,000 resources, and reading the
same type or logical id again for every rule and every reference cost more than building
the resources themselves.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from cdktf import TerraformResource

# A resource type is fixed by its binding class, so one read per class.
_TYPES: dict[type, str] = {}
_LOGICAL_IDS: WeakKeyDictionary[TerraformResource, str] = WeakKeyDictionary()
_ATTRIBUTES: WeakKeyDictionary[TerraformResource, dict[str, str]] = WeakKeyDictionary()


def resource_type(resource: TerraformResource) -> str:
    """`aws_sqs_queue` for an SqsQueue."""
    cls = type(resource)
    if cls not in _TYPES:
        _TYPES[cls] = resource.terraform_resource_type
    return _TYPES[cls]


def logical_id(resource: TerraformResource) -> str:
    """The resource's id in the JSON and in state; nothing here overrides one later."""
    if resource not in _LOGICAL_IDS:
        _LOGICAL_IDS[resource] = resource.friendly_unique_id
    return _LOGICAL_IDS[resource]


def attribute(resource: TerraformResource, name: str) -> str:
    """The reference token of attribute `name` (`url`, `arn`, `id`, `name`...). Reading the
    same attribute again gives the same token, so it is asked for once."""
    known = _ATTRIBUTES.setdefault(resource, {})
    if name not in known:
        known[name] = getattr(resource, name)
    return known[name]
