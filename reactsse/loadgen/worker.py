"""``python -m reactsse.loadgen.worker``: one worker process of ``reactsse bench --processes``.

It reads its job (options, loop, start time) as JSON on stdin, prints progress lines and then
one result line (its ``Stats``, serialised) as JSON on stdout; see ``reactsse.loadgen.runner``.
"""

from __future__ import annotations

import sys

from reactsse.loadgen.runner import worker_main

if __name__ == "__main__":
    sys.exit(worker_main())
