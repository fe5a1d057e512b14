"""PG1, PG4, PG5: the broker on PostgreSQL (``PostgresTransport``) beside the in-process one.

The server is ``ARVO_PG_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/test``);
each configuration uses a schema of its own, dropped afterwards. The handlers run in
worker processes (``python -m benchmarks.workloads.pg_broker JSON``), each a broker
with a ``PostgresTransport``; this process resolves (a broker without handlers).

* PG1 (W1 on PostgreSQL): N initial events through the three real Arvo hop handlers
  (``bench.a -> bench.b -> bench.c``) in one worker process at prefetch 8, each
  resolved (``missing="none"``: the chain ends without a reply) so the clock stops when
  the last lineage settled. ``hops_per_s`` beside the in-process broker running the
  same resolves (``baseline_hops_per_s``); ``ratio_to_baseline`` = PostgreSQL /
  in-process.
* PG4 (W4 on PostgreSQL): 500 workflows x 3 service calls of 1 ms (the resumable on a
  ``PostgresMachineMemory`` in the same schema: steps commit with their events), on 1
  and on 2 worker processes at prefetch 10, beside W4 in-process (the same handlers on
  ``ConcurrentMachineMemory``). ``scaling_ratio_to_1proc`` = 2 processes / 1 process
  (goal >= 1.5); ``prefetch=2`` asks whether fewer events in flight per process leave
  room for a second one. The CPU seconds of the run are split between the client
  processes (workers and resolver, from their first event) and the PostgreSQL backends
  serving them (found by the run's ``application_name``, read from ``/proc``: the server
  must run on this machine, else the figure is 0).
* PG5 (W5 on PostgreSQL): sequential ``resolve()`` latency, this process -> ``bench.a``
  -> ``bench.b`` -> this process, the handlers in a worker process (goal p50 <= 5 ms).

``sync=0`` runs every connection (workers, resolver, memory) with
``synchronous_commit=off`` (set in the DSN): a commit then returns before its WAL
reaches the disk. A server or OS crash may then lose the last commits (a fraction of
a second); a process crash loses nothing either way. ``sync=1`` is the default setting.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from arvo_concurrent import ConcurrentMachineMemory, create_concurrent_event_broker
from arvo_concurrent.postgres import PostgresMachineMemory, PostgresTransport
from benchmarks.core import Figures, LatencyHistogram, Params, Stopwatch, Workload, scaled
from benchmarks.workloads.bench_arvo import (
    chain_handlers,
    chain_request,
    hop_handlers,
    hop_request,
    sequence_init,
    sequence_resumable,
    service_handler,
)
from benchmarks.workloads.pg_server import DSN, drop_schema

_ROOT = Path(__file__).resolve().parents[2]
_TIMEOUT_S = 300.0
_DONE = "arvo.orc.bench.sequence.done"
_REPLY = "evt.bench.b.success"
_CALLS = 3
_SVC_S = 0.001
_W4_PREFETCH = 10
_W1_PREFETCH = 8
_HOPS = 3


def _handlers(kind: str, memory: Any, prefetch: int = _W4_PREFETCH) -> list[dict[str, Any]]:
    if kind == "w4":
        return [
            {"handler": sequence_resumable(memory), "prefetch": prefetch},
            {"handler": service_handler(_SVC_S), "prefetch": prefetch},
        ]
    if kind == "hops":
        return [{"handler": h, "prefetch": _W1_PREFETCH} for h in hop_handlers()]
    return [{"handler": h, "prefetch": 1} for h in chain_handlers()]


def _dsn(params: Params) -> tuple[str, str]:
    """A DSN naming a fresh ``application_name`` (its backends' CPU is measured), and it.

    With ``synchronous_commit=off`` when ``params["sync"]`` is 0.
    """
    application = f"arvo_bench_{uuid.uuid4().hex[:8]}"
    dsn = DSN + ("&" if "?" in DSN else "?") + f"application_name={application}"
    if not int(params.get("sync", 1)):
        dsn += "&options=-csynchronous_commit%3Doff"
    return dsn, application


def _worker(args: dict[str, Any]) -> None:
    """One worker process: serve until a line on stdin, then print the CPU seconds it served."""
    schema, dsn = args["schema"], args["dsn"]
    with PostgresMachineMemory(dsn, schema=schema) as memory:
        transport = PostgresTransport(dsn, schema=schema)
        handlers = _handlers(args["kind"], memory, args["prefetch"])
        with create_concurrent_event_broker(handlers, transport=transport):
            print(json.dumps({"ready": True}), flush=True)
            started = _own_cpu_s()  # the start (imports, connections) is not the run's
            sys.stdin.readline()
            served = _own_cpu_s() - started
    print(json.dumps({"cpu_s": served}), flush=True)


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _backends_cpu_s(application: str) -> dict[int, float]:
    """CPU seconds used so far by each server backend of ``application`` (by pid)."""
    with psycopg.connect(DSN, autocommit=True) as conn:
        pids = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application,)
            )
        ]
    used: dict[int, float] = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                values = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile (or the server runs on another machine)
        used[pid] = (int(values[11]) + int(values[12])) / os.sysconf("SC_CLK_TCK")
    return used


def _server_cpu_s(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


@contextmanager
def _workers(
    kind: str, processes: int, dsn: str, prefetch: int = _W4_PREFETCH
) -> Iterator[tuple[str, list[float]]]:
    """``processes`` worker processes on a fresh schema; yields it and their CPU seconds."""
    schema = f"arvo_bench_{uuid.uuid4().hex[:10]}"
    PostgresMachineMemory(dsn, schema=schema).close()  # migrate once, before the race
    PostgresTransport(dsn, schema=schema).close(None)
    args = json.dumps({"schema": schema, "kind": kind, "dsn": dsn, "prefetch": prefetch})
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.workloads.pg_broker", args],
            cwd=_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    cpu: list[float] = []
    try:
        for process in running:
            assert process.stdout is not None
            json.loads(process.stdout.readline())
        yield schema, cpu
        for process in running:
            out, _ = process.communicate("stop\n", timeout=60)
            cpu.append(json.loads(out.strip().splitlines()[-1])["cpu_s"])
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
                process.wait()
        drop_schema(schema)


def _resolve_all(handle: Any, events: list[Any], missing: str = "raise") -> list[Any]:
    futures = [handle.resolve_async(event, missing=missing) for event in events]
    return [future.result(_TIMEOUT_S) for future in futures]


def _w4_on_postgres(m: int, processes: int, params: Params) -> Figures:
    dsn, application = _dsn(params)
    prefetch = int(params.get("prefetch", _W4_PREFETCH))
    with _workers("w4", processes, dsn, prefetch) as (schema, worker_cpu):
        transport = PostgresTransport(dsn, schema=schema)
        with create_concurrent_event_broker([], transport=transport) as handle:
            inits = [sequence_init(_CALLS) for _ in range(m)]
            client_before, server_before = _own_cpu_s(), _backends_cpu_s(application)
            with Stopwatch() as watch:
                finals = _resolve_all(handle, inits)
            resolver_cpu = _own_cpu_s() - client_before
            server_cpu = _server_cpu_s(server_before, _backends_cpu_s(application))
    completed = sum(1 for final in finals if final.type == _DONE)
    if completed != m:
        raise RuntimeError(f"PG4: {completed} of {m} workflows completed")
    client_cpu = resolver_cpu + sum(worker_cpu)
    return {
        "workflows_per_s": m / watch.seconds,
        "client_cpu_s": client_cpu,
        "server_cpu_s": server_cpu,
    }


def _w4_in_process(m: int, prefetch: int) -> float:
    with (
        ConcurrentMachineMemory() as memory,
        create_concurrent_event_broker(_handlers("w4", memory, prefetch)) as handle,
    ):
        inits = [sequence_init(_CALLS) for _ in range(m)]
        with Stopwatch() as watch:
            _resolve_all(handle, inits)
    return m / watch.seconds


def run_pg4(params: Params, scale: float) -> Figures:
    m = scaled(500, scale, minimum=5)
    one = _w4_on_postgres(m, 1, params)
    two = _w4_on_postgres(m, 2, params)
    baseline = _w4_in_process(m, int(params.get("prefetch", _W4_PREFETCH)))
    return {
        "workflows_per_s_2proc": two["workflows_per_s"],
        "scaling_ratio_to_1proc": two["workflows_per_s"] / one["workflows_per_s"],
        "workflows_per_s_1proc": one["workflows_per_s"],
        "baseline_workflows_per_s": baseline,
        "ratio_to_baseline": one["workflows_per_s"] / baseline,
        "client_cpu_s_1proc": one["client_cpu_s"],
        "server_cpu_s_1proc": one["server_cpu_s"],
        "client_cpu_s_2proc": two["client_cpu_s"],
        "server_cpu_s_2proc": two["server_cpu_s"],
        "cpu_ms_per_workflow_1proc": (one["client_cpu_s"] + one["server_cpu_s"]) / m * 1e3,
    }


def run_pg1(params: Params, scale: float) -> Figures:
    n = scaled(2_000, scale, minimum=10)
    dsn, _ = _dsn(params)
    with _workers("hops", 1, dsn) as (schema, _):
        transport = PostgresTransport(dsn, schema=schema)
        with create_concurrent_event_broker([], transport=transport) as handle:
            requests = [hop_request(i) for i in range(n)]
            with Stopwatch() as watch:
                _resolve_all(handle, requests, "none")
    handlers = [{"handler": h, "prefetch": _W1_PREFETCH} for h in hop_handlers()]
    with create_concurrent_event_broker(handlers) as handle:
        requests = [hop_request(i) for i in range(n)]
        with Stopwatch() as baseline:
            _resolve_all(handle, requests, "none")
    rate, base = n * _HOPS / watch.seconds, n * _HOPS / baseline.seconds
    return {"hops_per_s": rate, "baseline_hops_per_s": base, "ratio_to_baseline": rate / base}


def run_pg5(params: Params, scale: float) -> Figures:
    n = scaled(500, scale, minimum=20)
    latencies = LatencyHistogram()
    dsn, _ = _dsn(params)
    with _workers("chain", 1, dsn) as (schema, _):
        transport = PostgresTransport(dsn, schema=schema)
        with create_concurrent_event_broker([], transport=transport) as handle:
            for _ in range(20):  # the pools start, the statements get prepared
                handle.resolve(chain_request(), timeout=_TIMEOUT_S)
            for i in range(n):
                request = chain_request(i)
                started = time.perf_counter()
                final = handle.resolve(request, timeout=_TIMEOUT_S)
                latencies.record(time.perf_counter() - started)
                if final.type != _REPLY:
                    raise RuntimeError(f"PG5 resolve {i} returned {final!r}")
    return {"p50_us": latencies.percentile(50) * 1e6, "p99_us": latencies.percentile(99) * 1e6}


def _footprint(kind: str, events: list[Any], missing: str = "raise") -> None:
    """The library's side of a repetition for its peak RSS: handlers and resolver in one process."""
    schema = f"arvo_bench_{uuid.uuid4().hex[:10]}"
    try:
        with (
            PostgresMachineMemory(DSN, schema=schema) as memory,
            create_concurrent_event_broker(
                _handlers(kind, memory), transport=PostgresTransport(DSN, schema=schema)
            ) as handle,
        ):
            _resolve_all(handle, events, missing)
    finally:
        drop_schema(schema)


def footprint_pg1(params: Params, scale: float) -> None:
    _footprint("hops", [hop_request(i) for i in range(scaled(2_000, scale, minimum=10))], "none")


def footprint_pg4(params: Params, scale: float) -> None:
    _footprint("w4", [sequence_init(_CALLS) for _ in range(scaled(500, scale, minimum=5))])


def footprint_pg5(params: Params, scale: float) -> None:
    _footprint("chain", [chain_request(i) for i in range(scaled(500, scale, minimum=20))])


WORKLOADS = [
    Workload(
        id="PG1",
        name="PostgreSQL broker: W1 hops through 3 real Arvo handlers vs in-process",
        sweep=[{"sync": 1}, {"sync": 0}],
        run=run_pg1,
        headline="ratio_to_baseline",
        tags=frozenset({"postgres", "broker"}),
        footprint=footprint_pg1,
    ),
    Workload(
        id="PG4",
        name="PostgreSQL broker: W4 on 1 and 2 worker processes vs in-process",
        sweep=[{"sync": 1}, {"sync": 0}, {"sync": 1, "prefetch": 2}],
        run=run_pg4,
        headline="scaling_ratio_to_1proc",
        tags=frozenset({"postgres", "workflow"}),
        footprint=footprint_pg4,
        highlights=("workflows_per_s_1proc", "workflows_per_s_2proc", "ratio_to_baseline"),
    ),
    Workload(
        id="PG5",
        name="PostgreSQL broker: resolve() latency through a 2-handler chain in another process",
        sweep=[{"sync": 1}, {"sync": 0}],
        run=run_pg5,
        headline="p50_us",
        tags=frozenset({"postgres", "workflow"}),
        footprint=footprint_pg5,
        highlights=("p99_us",),
    ),
]

if __name__ == "__main__":
    _worker(json.loads(sys.argv[1]))
