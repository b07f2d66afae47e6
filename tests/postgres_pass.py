"""`make test`'s second pass: the whole suite again, on a real PostgreSQL server.

The first pass runs on SQLite (the embedded default) and leaves out the tests marked
`postgres`, which need concurrent connections; this pass runs everything, those included,
except the Django-free packages' tests (networks, datasets, training loops), which never touch
a database and would only repeat the first pass.

Where no server answers, the pass is skipped with the reason, except under CI=true, where it
must run. The server is TEST_DATABASE_URL (default: the machines' 127.0.0.1:5432, trust auth).
"""
import os
import sys

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/test"
DATABASE_FREE = ("tests/generation/nets", "tests/generation/datasets", "tests/generation/training")


def main(pytest_args: list[str]) -> int:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_URL)
    try:
        import psycopg

        psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=5).close()
    except Exception as error:  # any failure to reach the server means the same thing here
        reason = f"PostgreSQL pass: no server at {url} ({error.__class__.__name__}: {str(error).strip()})"
        if os.environ.get("CI", "").lower() == "true":
            print(f"{reason}; under CI it must run.", file=sys.stderr)
            return 1
        print(f"SKIPPED {reason}", file=sys.stderr)
        return 0
    import pytest

    os.environ["DATABASE_URL"] = url
    return pytest.main([*(f"--ignore={path}" for path in DATABASE_FREE), *pytest_args])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
