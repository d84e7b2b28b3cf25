"""``python -m benchmarks.harness KIND ...`` from the repository root (see :mod:`benchmarks.harness.cli`)."""
import sys

from benchmarks.harness.cli import main

sys.exit(main())
