"""``reactsse bench``'s engine: a load generator for SSE and LLM streaming servers.

Modules: ``histogram`` (the HDR-style mergeable ``Histogram``), ``stats`` (what a run
measures, mergeable), ``options`` (``LoadOptions``), ``stream`` (one measured stream on the
connector and the sans-IO HTTP and SSE cores), ``engine`` (``LoadEngine``: closed and open
loops on any ``LoopInterface``, timed by ``loop.now()``), ``runner`` (one process, or several
merged), ``report`` (the JSON document and the text report) and ``html`` (the self-contained
page). docs/bench-tool.md explains the numbers.
"""

from reactsse.loadgen.engine import LoadEngine, Progress
from reactsse.loadgen.histogram import Histogram
from reactsse.loadgen.options import LoadOptions
from reactsse.loadgen.stats import Stats

__all__ = ["Histogram", "LoadEngine", "LoadOptions", "Progress", "Stats"]
