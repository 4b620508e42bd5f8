"""The project's app with the provider packages imported the usual way: `make bench`'s baseline.

Importing a submodule the usual way runs the package `__init__`, which imports every resource
module of the provider. With the packages already imported, `constructs_lib.providers` leaves
them as they are, so this runs the same code and writes the same JSON; only the imports differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cdktf_cdktf_provider_aws.sqs_queue  # noqa: F401
import cdktf_cdktf_provider_google.pubsub_topic  # noqa: F401

import main

if __name__ == "__main__":
    sys.exit(main.main())
