"""Run a load in this process, or spread over worker processes whose results are merged.

One Python process reads at most about one core's worth of streams; ``run_processes`` starts
``P`` workers (``python -m reactsse.loadgen.worker``, each a whole interpreter with its own
loop), gives each its share of the connections, streams and rate, starts them at one agreed
wall-clock instant, and merges their ``Stats`` exactly (counters add, histograms add bucket by
bucket). Each process measures its own CPU time over its run, so the report can say when the
client, not the server, was the limit.
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reactsse.loadgen.engine import LoadEngine, Progress
from reactsse.loadgen.options import LoadOptions
from reactsse.loadgen.stats import Stats
from reactsse.loop import LoopInterface, StreamSelectLoop

__all__ = ["LOOPS", "ProcessCPU", "RunResult", "make_loop", "run_local", "run_processes"]

LOOPS = ("select", "asyncio", "trio")
"""The loops ``--loop`` accepts: ``StreamSelectLoop``, or ``AnyioLoop`` on asyncio or trio."""

# Workers start this long after being spawned, so that every one has imported and connected
# its loop before the first stream: the processes then load the server together.
_START_DELAY = 1.0


@dataclass(frozen=True)
class ProcessCPU:
    """One client process: CPU seconds (user + system) used over ``wall`` seconds of its run."""

    cpu: float
    wall: float

    @property
    def percent(self) -> float:
        return 100.0 * self.cpu / self.wall if self.wall > 0 else 0.0


@dataclass
class RunResult:
    """The merged measurements, the measured window's length, and each process's CPU use."""

    stats: Stats
    elapsed: float
    cpu: list[ProcessCPU] = field(default_factory=list)
    interrupted: bool = False


def make_loop(name: str) -> LoopInterface:
    """The loop called ``name`` (one of ``LOOPS``)."""
    if name == "select":
        return StreamSelectLoop()
    if name in LOOPS:
        from reactsse.aio import AnyioLoop  # only then: anyio is not imported for select

        return AnyioLoop(name)
    raise ValueError(f"unknown loop {name!r} (one of: {', '.join(LOOPS)})")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_local(
    options: LoadOptions,
    *,
    loop: str = "select",
    on_progress: Callable[[Progress], object] | None = None,
) -> RunResult:
    """Run ``options`` on a new loop in this process; Ctrl-C ends the run early, cleanly."""
    event_loop = make_loop(loop)
    engine = LoadEngine(event_loop, options, on_progress=on_progress)
    wall, cpu = event_loop.now(), _cpu_seconds()
    interrupted = False
    engine.start()
    try:
        event_loop.run()
    except KeyboardInterrupt:
        interrupted = True
        engine.stop()
    usage = ProcessCPU(cpu=_cpu_seconds() - cpu, wall=event_loop.now() - wall)
    return RunResult(engine.stats, engine.elapsed, [usage], interrupted)


def run_processes(
    options: LoadOptions,
    processes: int,
    *,
    loop: str = "select",
    on_progress: Callable[[Progress], object] | None = None,
) -> RunResult:
    """Run ``options`` spread over ``processes`` workers; merge what they measured."""
    start_at = time.time() + _START_DELAY
    workers = []
    for index in range(processes):
        job = {
            "options": options.split(processes, index).to_dict(),
            "loop": loop,
            "start_at": start_at,
            "progress": on_progress is not None,
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "reactsse.loadgen.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert worker.stdin is not None
        worker.stdin.write(json.dumps(job))
        worker.stdin.close()
        workers.append(worker)
    try:
        results = _collect(workers, on_progress)
    except KeyboardInterrupt:
        # Ctrl-C reached the workers too (one process group): each ends its run and reports.
        results = _collect(workers, None)
        merged = _merge(results)
        merged.interrupted = True
        return merged
    return _merge(results)


def _collect(
    workers: list[subprocess.Popen[str]], on_progress: Callable[[Progress], object] | None
) -> list[dict[str, object]]:
    """Read every worker's lines until each has sent its result; sum their progress."""
    results: dict[int, dict[str, object]] = {}
    latest: dict[int, Progress] = {}
    with selectors.DefaultSelector() as selector:
        for index, worker in enumerate(workers):
            assert worker.stdout is not None
            selector.register(worker.stdout, selectors.EVENT_READ, index)
        while len(selector.get_map()):
            for key, _ in selector.select():
                index = key.data
                line = key.fileobj.readline()  # type: ignore[union-attr]
                if not line:
                    selector.unregister(key.fileobj)
                    continue
                message = json.loads(line)
                if "result" in message:
                    results[index] = message["result"]
                elif "progress" in message and on_progress is not None:
                    latest[index] = Progress(**message["progress"])
                    on_progress(_sum_progress(list(latest.values())))
    for index, worker in enumerate(workers):
        if worker.wait() != 0 and index not in results:
            raise RuntimeError(f"bench worker {index} failed (exit status {worker.returncode})")
    return [results[index] for index in range(len(workers))]


def _sum_progress(parts: list[Progress]) -> Progress:
    return Progress(
        elapsed=max(p.elapsed for p in parts),
        warming_up=any(p.warming_up for p in parts),
        open_streams=sum(p.open_streams for p in parts),
        events=sum(p.events for p in parts),
        events_per_s=sum(p.events_per_s for p in parts),
    )


def _merge(results: list[dict[str, object]]) -> RunResult:
    stats = Stats()
    elapsed = 0.0
    cpu: list[ProcessCPU] = []
    interrupted = False
    for result in results:
        stats.merge(Stats.from_dict(result["stats"]))  # type: ignore[arg-type]
        elapsed = max(elapsed, float(result["elapsed"]))  # type: ignore[arg-type]
        cpu.append(ProcessCPU(**result["cpu"]))  # type: ignore[arg-type]
        interrupted = interrupted or bool(result.get("interrupted"))
    return RunResult(stats, elapsed, cpu, interrupted)


def worker_main() -> int:
    """A worker: read the job from stdin, wait for the start, run, print the result as JSON."""
    job = json.loads(sys.stdin.read())
    options = LoadOptions.from_dict(job["options"])

    def progress(snapshot: Progress) -> None:
        print(json.dumps({"progress": snapshot.__dict__}), flush=True)

    delay = float(job["start_at"]) - time.time()
    if delay > 0:
        time.sleep(delay)
    result = run_local(options, loop=job["loop"], on_progress=progress if job["progress"] else None)
    usage = result.cpu[0]
    message = {
        "result": {
            "stats": result.stats.to_dict(),
            "elapsed": result.elapsed,
            "cpu": {"cpu": usage.cpu, "wall": usage.wall},
            "interrupted": result.interrupted,
            "pid": os.getpid(),
        }
    }
    print(json.dumps(message), flush=True)
    return 0
