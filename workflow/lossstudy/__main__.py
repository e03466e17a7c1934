"""``python -m lossstudy ...``: see lossstudy.cli."""

import sys

from lossstudy.cli import main

sys.exit(main())
