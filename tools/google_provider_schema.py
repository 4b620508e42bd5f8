"""Write the google provider's schema for the types our stacks use, as Terraform prints it.

Why: the google provider cannot be downloaded here, so `terraform validate` cannot check the
google_* resources. The pinned bindings package (cdktf-cdktf-provider-google) was generated
from that provider's schema and keeps it in its jsii assembly: every argument with its
Terraform name, type, whether it is required, and the nested blocks. This tool turns the part
our stacks use into the format of `terraform providers schema -json`, so the same schema
check that holds the RabbitMQ resources to their provider holds the Google ones to theirs.

    python -m tools.google_provider_schema cdktf.out/stacks > tests/google_provider_schema.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import sys
import tarfile
from collections.abc import Iterable, Mapping
from importlib.util import find_spec
from pathlib import Path
from typing import Any

PACKAGE = "cdktf-cdktf-provider-google"
_MODULE = "cdktf_cdktf_provider_google"
_PREFIX = "@cdktf/provider-google"
PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/google"
# The Terraform name of an argument, from the registry link in its documentation.
_REGISTRY_ANCHOR = re.compile(r"docs/(?:resources|data-sources)/\w+#(\w+) ")
_PROVIDER_VERSION = re.compile(r"registry\.terraform\.io/providers/hashicorp/google/([\d.]+)/")
_PRIMITIVES = {"string": "string", "number": "number", "boolean": "bool"}


def _assembly() -> dict[str, Any]:
    spec = find_spec(_MODULE)
    if spec is None or spec.origin is None:
        raise SystemExit(f"error: {PACKAGE} is not installed; run `make install`")
    [tarball] = (Path(spec.origin).parent / "_jsii").glob("*.jsii.tgz")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/.jsii")
        assert member is not None
        assembly: dict[str, Any] = json.load(member)
    return assembly


def _camel(terraform_type: str, *, data: bool) -> str:
    words = terraform_type.removeprefix("google_").split("_")
    name = "".join(word.capitalize() for word in words)
    return f"DataGoogle{name}" if data else name


def _type(jsii_type: Mapping[str, Any]) -> tuple[str, Any]:
    """('attribute', terraform type) or ('block', (struct fqn, is a list))."""
    if "union" in jsii_type:
        [concrete] = [t for t in jsii_type["union"]["types"] if t.get("fqn") != "cdktf.IResolvable"]
        return _type(concrete)
    if "primitive" in jsii_type:
        return "attribute", _PRIMITIVES[jsii_type["primitive"]]
    if "fqn" in jsii_type:
        return "block", (jsii_type["fqn"], False)
    collection = jsii_type["collection"]
    kind, element = _type(collection["elementtype"])
    if kind == "block":
        return "block", (element[0], True)
    return "attribute", [collection["kind"], element]


def _terraform_name(prop: Mapping[str, Any]) -> str:
    """From the registry link in the docs; a few docs lost it, and there cdktf's own rule
    (snake_case to camelCase) is undone."""
    anchor = _REGISTRY_ANCHOR.search(" ".join(map(str, prop.get("docs", {}).values())))
    if anchor is not None:
        return anchor.group(1)
    return re.sub(r"(?<!^)([A-Z])", r"_\1", prop["name"]).lower()


def _block(types: Mapping[str, Any], fqn: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    block_types: dict[str, Any] = {}
    for prop in types[fqn].get("properties", []):
        name = _terraform_name(prop)
        kind, value = _type(prop["type"])
        required = not prop.get("optional", False)
        if kind == "attribute":
            attributes[name] = {"type": value, "required" if required else "optional": True}
        else:
            struct, is_list = value
            nested: dict[str, Any] = {"nesting_mode": "list", "block": _block(types, struct)}
            if not is_list:
                nested["max_items"] = 1
            if required:
                nested["min_items"] = 1
            block_types[name] = nested
    block: dict[str, Any] = {"attributes": attributes}
    if block_types:
        block["block_types"] = block_types
    return block


def _provider_version(types: Mapping[str, Any], fqn: str) -> str:
    match = _PROVIDER_VERSION.search(types[fqn]["docs"]["summary"])
    if match is None:
        raise SystemExit(f"error: {fqn} does not name its provider version")
    return match.group(1)


def schema(resource_types: Iterable[str], data_types: Iterable[str]) -> dict[str, Any]:
    """The schemas of the given google_* resource and data source types."""
    types = _assembly()["types"]
    found: dict[str, dict[str, Any]] = {"resource_schemas": {}, "data_source_schemas": {}}
    versions = set()
    for key, names, data in (
        ("resource_schemas", resource_types, False),
        ("data_source_schemas", data_types, True),
    ):
        for name in sorted(names):
            camel = _camel(name, data=data)
            module = camel[0].lower() + camel[1:]
            fqn = f"{_PREFIX}.{module}.{camel}"
            if fqn not in types:
                raise SystemExit(f"error: {name}: no such type in {PACKAGE}")
            versions.add(_provider_version(types, fqn))
            found[key][name] = {"block": _block(types, f"{fqn}Config")}
    [provider_version] = versions or {"unknown"}
    return {
        "format_version": "1.0",
        "generated_from": {
            "package": PACKAGE,
            "package_version": importlib.metadata.version(PACKAGE),
            "provider_version": provider_version,
        },
        "provider_schemas": {PROVIDER_ADDRESS: found},
    }


def used_types(stacks_dir: Path) -> tuple[set[str], set[str]]:
    """The google_* resource and data source types in every synthesized stack."""
    resources: set[str] = set()
    data: set[str] = set()
    for path in sorted(stacks_dir.glob("*/cdk.tf.json")):
        stack = json.loads(path.read_text(encoding="utf-8"))
        resources |= {t for t in stack.get("resource", {}) if t.startswith("google_")}
        data |= {t for t in stack.get("data", {}) if t.startswith("google_")}
    return resources, data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks_dir", type=Path, help="the synthesized cdktf.out/stacks")
    args = parser.parse_args(argv)
    resources, data = used_types(args.stacks_dir)
    if not resources and not data:
        print(f"error: no google_* types in {args.stacks_dir}/*/cdk.tf.json", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(schema(resources, data), indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
