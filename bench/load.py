"""Participants answering at once: answers/s and answer latency under gunicorn + PostgreSQL, beside the stack's ceiling.

    .venv/bin/python bench/load.py [--seconds 10] [--levels 100,250,500] [--workers 5] [--threads 1]

Creates a fresh database on the local PostgreSQL server (TEST_DATABASE_URL, default 127.0.0.1:5432), migrates
it, opens a pairwise survey of two small pools, serves the site with gunicorn on 127.0.0.1 and a free port, and
drops the database at the end. At each level N of concurrent participants it runs three phases, each
measured for ``--seconds`` after ``--warmup`` seconds (participants: after the first N have all got through
consent to their first trial as well; "start s" says how long that rush took):

* paced     N simulated participants (bench/load_client.py) take the survey end to end, pausing a think time
            (``--think``, uniform 0.5-1.5 x the mean) before each answer; one who finishes is replaced by a new
            one. Answer latency is from the first POST to the confirmed reply, retries included.
* saturated the same participants with no think time: what the answer path can take at most.
* ceiling   N clients posting back to back to a bare view of the same server that inserts one row
            (bench/load_urls.py): what the stack (client, gunicorn, Django, PostgreSQL) can take at most.

Then every answer a client saw confirmed is looked up in the database: lost = confirmed but not stored (or
stored with another choice), doubled = a trial with more than one response or a worker with two participants.
The client shares the machine's cores with gunicorn and PostgreSQL: the first table says how much CPU it took,
the second how many CPU milliseconds each part of the stack (gunicorn, PostgreSQL, Redis, the client) spent per
answer inside the window (bench/load_stack.py, cpu_seconds).
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import load_client, load_stack  # noqa: E402


@dataclass
class PhaseResult:
    level: int
    phase: str
    rate: float  # confirmed answers (or inserts) per second in the measured window
    start_s: float  # how long it took the first N participants, arriving together, to get to their first trial
    all_started: bool  # False: the window opened before all of them had (the start took too long)
    latencies_ms: list[float]
    retries: int
    errors: int
    audit: load_client.Audit
    unconfirmed: int
    client_cpu: float  # share of one core the benchmark process used
    machine_cpu: float  # share of all cores busy
    cpu_ms: dict[str, float]  # CPU milliseconds per confirmed answer (insert) inside the window, by part of the stack


# A database of the local Redis server that nothing else of evalsite uses (Celery's broker takes 0 by default).
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/14"


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * len(ordered) + 0.5)) - 1))]


def cpu_busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(x) for x in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def run_phase(level: int, phase: str, args, server: load_stack.Gunicorn, survey: load_client.Survey,
              db_url: str) -> PhaseResult:
    prefix = f"{phase}{level}"
    busy0, total0 = cpu_busy_ticks()
    cpu0, wall0 = time.process_time(), time.monotonic()
    cpu_reading = functools.partial(load_stack.cpu_seconds, server.process.pid)  # gunicorn leads its process group
    if phase == "ceiling":
        tally = asyncio.run(load_client.ceiling_for(server.url, level, args.seconds, run=prefix, warmup_s=args.warmup,
                                                    cpu_reading=cpu_reading))
        audit = load_client.ceiling_audit(db_url, tally, prefix)
    else:
        think = args.think if phase == "paced" else 0.0
        tally = asyncio.run(load_client.participants_for(survey, level, args.seconds, prefix=prefix, think_s=think,
                                                         warmup_s=args.warmup, max_start_s=args.max_start,
                                                         cpu_reading=cpu_reading))
        audit = load_client.audit(db_url, tally, prefix)
    busy1, total1 = cpu_busy_ticks()
    in_window = tally.in_window()
    return PhaseResult(
        level=level, phase=phase, rate=tally.rate(), start_s=tally.start_s, all_started=tally.all_started,
        latencies_ms=[1000 * x for x in in_window], retries=tally.retries,
        errors=sum(tally.errors.values()), audit=audit, unconfirmed=tally.unconfirmed,
        client_cpu=(time.process_time() - cpu0) / (time.monotonic() - wall0),
        machine_cpu=(busy1 - busy0) / max(1, total1 - total0),
        cpu_ms={part: 1000 * seconds / max(1, len(in_window)) for part, seconds in tally.window_cpu.items()},
    )


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(row) for row in rows)])


def result_rows(results: list[PhaseResult]) -> list[list[str]]:
    rows = []
    for r in results:
        p = [percentile(r.latencies_ms, share) for share in (0.5, 0.95, 0.99)]
        start = "-" if r.phase == "ceiling" else f"{r.start_s:.1f}" + ("" if r.all_started else " (not all)")
        rows.append([str(r.level), r.phase, f"{r.rate:.0f}", *(f"{x:.0f}" for x in p), start, str(r.retries),
                     str(r.errors),
                     str(r.audit.confirmed), str(r.audit.lost), str(r.audit.doubled),
                     str(r.audit.unconfirmed_stored + r.unconfirmed), f"{100 * r.client_cpu:.0f}%",
                     f"{100 * r.machine_cpu:.0f}%"])
    return rows


def ratio_rows(results: list[PhaseResult]) -> list[list[str]]:
    by_key = {(r.level, r.phase): r for r in results}
    rows = []
    for level in sorted({r.level for r in results}):
        saturated, ceiling, paced = (by_key[(level, name)] for name in ("saturated", "ceiling", "paced"))
        rows.append([str(level), f"{paced.rate:.0f}", f"{saturated.rate:.0f}", f"{ceiling.rate:.0f}",
                     f"{saturated.rate / ceiling.rate:.2f}x" if ceiling.rate else "-"])
    return rows


def cpu_rows(results: list[PhaseResult]) -> list[list[str]]:
    """CPU ms per answer (insert) by part; the last column: the server side (gunicorn + PostgreSQL + Redis)."""
    rows = []
    for r in results:
        server_side = sum(r.cpu_ms[part] for part in load_stack.SERVER_PARTS)
        by_part = [f"{r.cpu_ms[part]:.2f}" for part in load_stack.CPU_PARTS]
        rows.append([str(r.level), r.phase, f"{r.rate:.0f}", *by_part, f"{server_side:.2f}"])
    return rows


def machine_lines(args) -> list[str]:
    load = os.getloadavg()
    lines = [
        f"python {platform.python_version()} | PostgreSQL {load_stack.postgres_version()} | {os.cpu_count()} CPU cores, "
        f"shared by the client, gunicorn and PostgreSQL",
        f"gunicorn: {args.workers} workers x {args.threads} thread(s) "
        f"({'gthread, keep-alive' if args.threads > 1 else 'sync, a connection per request'}); "
        f"persistent database connections {args.conn_max_age} s; "
        f"{'cache and sessions in Redis' if args.cache_url else 'per-worker cache, sessions in PostgreSQL'}"
        f"{'; prepared statements (server-side binding)' if args.prepared else ''}",
        f"think time {args.think:.2f} s mean (paced phase); {args.trials} trials per participant"
        f"{', images fetched' if args.images else ', images not fetched'}; "
        f"phases of {args.warmup:.0f} s warm-up + {args.seconds:.0f} s measured",
        f"load average (1, 5, 15 min) at start: {' '.join(f'{x:.2f}' for x in load)}",
    ]
    if load[0] >= 1.0:
        lines.append("WARNING: other processes were using the CPU when this run started: figures may be distorted")
    return lines


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per phase (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds at the start of each phase")
    parser.add_argument("--max-start", type=float, default=60,
                        help="open the window after this many seconds even if not all N participants have started")
    parser.add_argument("--levels", default="100,250,500", help="concurrent participants, comma-separated")
    parser.add_argument("--think", type=float, default=0.8, help="mean think time before an answer, paced phase (s)")
    parser.add_argument("--trials", type=int, default=20, help="main trials per participant")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (> 1: the gthread worker)")
    parser.add_argument("--conn-max-age", type=int, default=60,
                        help="EVALSITE_DB_CONN_MAX_AGE for the server (0: a new database connection per request)")
    parser.add_argument("--prepared", action="store_true",
                        help="server-side parameter binding and prepared statements (EVALSITE_DB_PREPARED=true)")
    parser.add_argument("--images", action="store_true",
                        help="participants also fetch every trial's images (two small PNGs per pairwise trial)")
    parser.add_argument("--phases", default="paced,saturated,ceiling", help="which phases to run")
    parser.add_argument("--cache-url", default=DEFAULT_CACHE_URL,
                        help="EVALSITE_CACHE_URL of the server, the shared cache that also holds the sessions, as "
                             f"docs/deploy.md has it (default {DEFAULT_CACHE_URL}); 'none': per-worker memory")
    args = parser.parse_args(argv)
    args.cache_url = "" if args.cache_url.lower() == "none" else args.cache_url
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    reason = load_stack.postgres_missing_reason() or (args.cache_url and load_stack.redis_missing_reason(args.cache_url))
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1
    print("\n".join(machine_lines(args)) + "\n")
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    phases = [x.strip() for x in args.phases.split(",") if x.strip()]
    results = []
    with load_stack.fresh_database() as db_url, tempfile.TemporaryDirectory(prefix="evalsite-load-") as folder:
        env = load_stack.server_env(db_url, Path(folder), conn_max_age=args.conn_max_age, settings="bench.load_settings",
                                    cache_url=args.cache_url)
        env["EVALSITE_DB_PREPARED"] = "true" if args.prepared else "false"
        prepared = load_stack.prepare_database(env, trials=args.trials, ceiling_table=True)
        with load_stack.Gunicorn(env, workers=args.workers, threads=args.threads) as server:
            survey = load_client.Survey(server.url, prepared["slug"], prepared["kind"], images=args.images)
            for level in levels:
                for phase in phases:
                    server.wait_idle()  # nothing left over from the phase before
                    result = run_phase(level, phase, args, server, survey, db_url)
                    results.append(result)
                    print(f"  {level:>4} {phase:<9} {result.rate:7.0f}/s  p99 "
                          f"{percentile(result.latencies_ms, 0.99):6.0f} ms  lost {result.audit.lost}  "
                          f"doubled {result.audit.doubled}", flush=True)
            errors_logged = server.log_tail(2000)
        if args.cache_url:
            load_stack.redis_flush(args.cache_url)
    headers = ["participants", "phase", "answers/s", "p50 ms", "p95 ms", "p99 ms", "start s", "retries", "errors",
               "confirmed",
               "lost", "doubled", "unconfirmed", "client cpu", "machine cpu"]
    print("\n" + table(headers, result_rows(results)))
    print("\nCPU ms per answer (ceiling: per insert) inside the measured window, by part of the stack:\n"
          + table(["participants", "phase", "answers/s", *load_stack.CPU_PARTS, "server side"], cpu_rows(results)))
    if set(phases) >= {"paced", "saturated", "ceiling"}:
        print("\n" + table(["participants", "paced/s", "saturated/s", "ceiling inserts/s", "saturated / ceiling"],
                           ratio_rows(results)))
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if "Traceback" in errors_logged:
        print("\nthe server logged errors (last lines):\n" + errors_logged[-1500:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
