"""``python -m pgchallenge``: the same as the ``pgchallenge`` command."""

from __future__ import annotations

import sys

from pgchallenge.cli import main

if __name__ == "__main__":
    sys.exit(main())
