"""`python -m entrypoints.cli`: the same command line as `export-responses`."""

import sys

from entrypoints.cli import main

sys.exit(main())
