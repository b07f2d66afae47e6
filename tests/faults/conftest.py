"""Fault tests: the site under gunicorn and PostgreSQL while something breaks (the database server restarts).

They restart the machine's PostgreSQL server, which cuts every connection to it, pytest-django's own included.
So they run in a pass of their own, after the others (tests/faults_pass.py, the third line of `make test`),
and are left out of any other run unless named on the command line (`pytest tests/faults`). They never use
pytest-django's test database: each test makes its own database and talks to it through gunicorn and psycopg
(bench/load_stack.py), and the simulated participants are bench/load_client.py's.
"""
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import in_ci

FAULTS_DIR = Path(__file__).resolve().parent
PASS_VARIABLE = "EVALSITE_FAULTS_PASS"


def _named_on_command_line(config) -> bool:
    for arg in config.invocation_params.args:
        path = Path(config.invocation_params.dir, str(arg).split("::")[0]).resolve()
        if path == FAULTS_DIR or FAULTS_DIR in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    """Leave these tests out of the suite's other passes (a restart there would cut their database connections)."""
    if os.environ.get(PASS_VARIABLE) == "1" or _named_on_command_line(config):
        return None
    return collection_path.name.startswith("test_") or None


@pytest.fixture(scope="session")
def postgres_cluster():
    """The local PostgreSQL server, which these tests may restart; skipped (failed under CI) where it is absent."""
    from bench.load_stack import PG_RESTART, postgres_missing_reason

    reason = postgres_missing_reason()
    if reason is None and shutil.which(PG_RESTART[0]) is None:
        reason = f"{PG_RESTART[0]} is not installed: the test cannot restart the PostgreSQL server"
    if reason:
        if in_ci():
            pytest.fail(f"fault tests must run under CI: {reason}")
        pytest.skip(reason)
