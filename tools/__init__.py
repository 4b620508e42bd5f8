"""The commands behind the Makefile targets, one module each (docs/layout.md lists them).

Importing this package points jsii at the project's Node before any command loads cdktf, so
a command run by hand answers as it does under make (stacks/node_runtime.py).
"""

from stacks.node_runtime import use_project_node

use_project_node()
