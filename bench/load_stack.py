"""The server side of the load benchmark and the fault tests: a fresh PostgreSQL database and gunicorn in front of it.

    with fresh_database() as db_url, tempfile.TemporaryDirectory() as folder:
        env = server_env(db_url, Path(folder))
        survey = prepare_database(env, trials=20)
        with Gunicorn(env, workers=5) as server:
            ...  # participants talk to server.url

Nothing here imports Django: the database is prepared by bench/load_setup.py in a process of its own, and the
site runs in gunicorn's processes, so the caller (a benchmark, or a pytest process with its own Django settings)
never shares a database connection with the server.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"
GUNICORN_CONFIG = REPO_ROOT / "gunicorn.conf.py"
PG_RESTART = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart"]
PG_START = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "start"]


class StackError(RuntimeError):
    """The stack could not be started; the message says which part and why."""


def server_url() -> str:
    """The PostgreSQL server to create databases on (TEST_DATABASE_URL, default the machines' 127.0.0.1:5432)."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER_URL)
    return url.replace("postgres://", "postgresql://", 1)


def postgres_missing_reason() -> str | None:
    """None when the server answers; otherwise why not, in a line."""
    try:
        import psycopg

        psycopg.connect(server_url(), connect_timeout=5).close()
    except Exception as error:  # any failure to reach the server means the same thing here
        return f"no PostgreSQL server at {server_url()} ({error.__class__.__name__}: {str(error).strip()})"
    return None


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def _admin(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as connection:
        connection.execute(statement)


@contextlib.contextmanager
def fresh_database(prefix: str = "evalsite_load"):
    """A new, empty database on the server, dropped afterwards (connections still open are ended)."""
    url = server_url()
    _drop_orphans(url, prefix)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    _admin(url, f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(url, name)
    finally:
        wait_for_postgres(timeout=60)  # a fault test may have just restarted the server
        _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _drop_orphans(url: str, prefix: str) -> None:
    """Drop this prefix's databases left by runs that were killed before they could (their process is gone)."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as connection:
        names = [row[0] for row in connection.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                                      [f"{prefix}\\_%"])]
        for name in names:
            pid = name[len(prefix) + 1:].split("_")[0]
            if pid.isdigit() and not _process_alive(int(pid)):
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def wait_for_postgres(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (reason := postgres_missing_reason()) is not None:
        if time.monotonic() > deadline:
            raise StackError(reason)
        time.sleep(0.5)


def server_env(db_url: str, folder: Path, conn_max_age: int = 60, settings: str = "evalsite.settings",
               cache_url: str = "") -> dict:
    """The environment of both the preparing process and the gunicorn server: same database, media and key.

    ``cache_url`` (redis://...): the shared cache a deployment with several workers has, which also holds the
    sessions (evalsite.settings); empty: each worker's own memory, sessions in the database.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "EVALSITE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE=settings,
        DATABASE_URL=db_url,
        EVALSITE_VAR_DIR=str(folder / "var"),
        EVALSITE_MEDIA_ROOT=str(folder / "media"),
        EVALSITE_SECRET_KEY=secrets.token_urlsafe(40),
        EVALSITE_DB_CONN_MAX_AGE=str(conn_max_age),
        EVALSITE_BACKGROUND_THREADS="false",
        EVALSITE_LOG_LEVEL="WARNING",
        # Every simulated participant comes from 127.0.0.1, so the per-address limits (evalsite/ratelimit.py)
        # would take hundreds of people for one abusive client; the settings' own switch for load benchmarks.
        EVALSITE_RATE_LIMITS_ENABLED="false",
        PYTHONPATH=str(REPO_ROOT),
    )
    if cache_url:
        env["EVALSITE_CACHE_URL"] = cache_url
    return env


def redis_missing_reason(url: str) -> str | None:
    """Why the Redis server at ``url`` cannot be used, or None when it answers a PING."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"no Redis at {url} ({error.__class__.__name__}: {error})"
    return None


def redis_flush(url: str) -> None:
    """Empty the benchmark's Redis database: the sessions and counters of a database that is dropped too."""
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()


def prepare_database(env: dict, trials: int, ceiling_table: bool = False) -> dict:
    """Migrate the database, fill two pools and open a survey (bench/load_setup.py): {"slug", "kind", "trials"}."""
    command = [sys.executable, str(REPO_ROOT / "bench" / "load_setup.py"), "--trials", str(trials)]
    if ceiling_table:
        command.append("--ceiling-table")
    done = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise StackError(f"preparing the database failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """gunicorn serving evalsite on 127.0.0.1 and a free port; its log goes to ``log_path``.

    The application is bench/load_wsgi.py, preloaded: the site's own WSGI application with its URLs imported in
    the master, so that no worker spends its first request importing pandas and plotly.

    ``threads`` > 1 selects the gthread worker (keep-alive connections, threads sharing a process); 1 the
    default sync worker (one request at a time per process, a new connection for each request).
    """

    def __init__(self, env: dict, workers: int, threads: int = 1, log_path: Path | None = None,
                 ready_path: str = "/accounts/login/"):
        self.env, self.workers, self.threads = env, workers, threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or Path(env["EVALSITE_VAR_DIR"]) / "gunicorn.log"
        self.ready_path = ready_path
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "gunicorn", "bench.load_wsgi:application", "--preload"]
        if GUNICORN_CONFIG.exists():  # the production configuration; the options below win over it
            command += ["--config", str(GUNICORN_CONFIG)]
        command += ["--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                    "--backlog", "4096", "--timeout", "120", "--graceful-timeout", "5", "--chdir", str(REPO_ROOT),
                    "--error-logfile", str(self.log_path), "--capture-output"]
        if self.threads > 1:
            return command + ["--worker-class", "gthread", "--threads", str(self.threads), "--keep-alive", "30"]
        return command + ["--worker-class", "sync"]

    def __enter__(self) -> "Gunicorn":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(self.command(), env=self.env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_ready(timeout=60)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=5) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise StackError(f"gunicorn did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def wait_idle(self, timeout: float = 60, fast_s: float = 0.25) -> float:
        """Wait until a cheap page comes back within ``fast_s`` (no queue of requests left); the seconds waited."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            sent = time.monotonic()
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=timeout) as reply:
                    reply.read()
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - sent < fast_s:
                break
        return time.monotonic() - began

    def log_text(self) -> str:
        """gunicorn's log: its own messages, the access log and what the workers wrote (Django's errors)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:] or "(no log)"

    def stop(self) -> None:
        """Stop the master and its workers (their own process group: this process started them)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)


def postgres_restart() -> None:
    """Restart the local PostgreSQL cluster: every connection to it is cut."""
    subprocess.run(PG_RESTART, check=True, capture_output=True, timeout=120)


def postgres_ensure_running() -> None:
    """Start the cluster if a failed restart left it down; wait until it takes connections."""
    if postgres_missing_reason() is not None:
        subprocess.run(PG_START, capture_output=True, timeout=120)
    wait_for_postgres(timeout=60)


def postgres_start_time(db_url: str) -> str:
    import psycopg

    with psycopg.connect(db_url, connect_timeout=10) as connection:
        return str(connection.execute("SELECT pg_postmaster_start_time()").fetchone()[0])


def postgres_version() -> str:
    import psycopg

    with psycopg.connect(server_url(), connect_timeout=10) as connection:
        return connection.execute("SHOW server_version").fetchone()[0]


# --- Where the CPU goes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessTimes:
    """One line of /proc/<pid>/stat, the parts the benchmark needs (times in clock ticks)."""

    name: str
    parent: int
    group: int
    own: int  # user + system time of the process itself
    reaped: int  # user + system time of its children that have exited and been waited for


def parse_proc_stat(text: str) -> ProcessTimes:
    # The name is in parentheses and may itself hold spaces and parentheses: the fields start after the last ")".
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    # Fields 4, 5, 14, 15, 16 and 17 of proc(5): ppid, pgrp, utime, stime, cutime, cstime (state is field 3).
    parent, group = int(fields[1]), int(fields[2])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ProcessTimes(name=name, parent=parent, group=group, own=utime + stime, reaped=cutime + cstime)


def _all_process_times() -> dict[int, ProcessTimes]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                found[int(entry)] = parse_proc_stat(Path(f"/proc/{entry}/stat").read_text())
            except (OSError, ValueError, IndexError):  # gone between the listing and the read
                continue
    return found


CPU_PARTS = ("gunicorn", "postgres", "redis", "client")
SERVER_PARTS = ("gunicorn", "postgres", "redis")  # all but the simulated browsers


def cpu_seconds(server_group: int) -> dict[str, float]:
    """CPU seconds used so far by each part of the stack: gunicorn (the process group ``server_group``: master and
    workers), PostgreSQL (the postmaster and its backends), Redis, and this process (the client).

    A part's root process also counts the time of its children that have exited (a backend closed with its
    connection, a worker gunicorn replaced), so that a difference of two readings holds all the work in between.
    """
    processes = _all_process_times()
    ticks = dict.fromkeys(CPU_PARTS, 0)
    for pid, process in processes.items():
        part = _part_of(pid, process, server_group)
        if part is None:
            continue
        ticks[part] += process.own
        parent = processes.get(process.parent)
        if parent is None or _part_of(process.parent, parent, server_group) != part:  # the part's root
            ticks[part] += process.reaped
    per_second = os.sysconf("SC_CLK_TCK")
    return {part: value / per_second for part, value in ticks.items()}


def _part_of(pid: int, process: ProcessTimes, server_group: int) -> str | None:
    if pid == os.getpid():
        return "client"
    if process.group == server_group:
        return "gunicorn"
    if process.name == "postgres":
        return "postgres"
    if process.name.startswith("redis-server"):
        return "redis"
    return None
