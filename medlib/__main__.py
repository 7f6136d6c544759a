"""Entry point of ``python -m medlib``."""

import sys

from medlib.cli import main

sys.exit(main())
