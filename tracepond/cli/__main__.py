"""`python -m tracepond.cli`, the same as the `tracepond` command."""

import sys

from tracepond.cli import main

sys.exit(main())
