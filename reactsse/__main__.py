"""``python -m reactsse``: the same command line as the ``reactsse`` console script."""

from __future__ import annotations

import sys

from reactsse.cli import main

if __name__ == "__main__":
    sys.exit(main())
