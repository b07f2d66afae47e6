"""`make test`'s third pass: the fault tests (tests/faults/), in a process of their own, after the others.

They restart the machine's PostgreSQL server, which would cut the database connections of any other test
running in the same process; so the first two passes leave them out (tests/faults/conftest.py) and this one
runs only them. Each test makes its own database on the server and serves it with gunicorn.

Where no server answers, the pass is skipped with the reason, except under CI=true, where it must run. The
server is TEST_DATABASE_URL (default: the machines' 127.0.0.1:5432, trust auth).
"""
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def main(pytest_args: list[str]) -> int:
    sys.path.insert(0, str(REPO_ROOT))
    from bench.load_stack import postgres_missing_reason

    reason = postgres_missing_reason()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            print(f"Fault pass: {reason}; under CI it must run.", file=sys.stderr)
            return 1
        print(f"SKIPPED fault pass: {reason}", file=sys.stderr)
        return 0
    import pytest

    os.environ["EVALSITE_FAULTS_PASS"] = "1"
    return pytest.main(["tests/faults", *pytest_args])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
