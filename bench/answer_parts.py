"""What one answer is made of: the answer endpoint and its parts, timed in-process on PostgreSQL.

    .venv/bin/python bench/answer_parts.py [--repeats 300] [--prepared]

bench/load.py says what an answer costs under load (CPU ms per answer, by process); this script says where
that goes inside Django. It makes a fresh database on the local PostgreSQL server (as load.py does, with the
same survey: bench/load_setup.py), starts participants through the real pages with Django's test client,
and times, each as the median of ``--repeats`` blocks of one call:

* a whole answer POST through the test client (middleware, session, view, reply); the test client's own
  work is in it too;
* its parts, as the view calls them: the participant found from the session's token, the next trial specs of
  the reply, and for scale a bare ``SELECT 1`` round trip;
* the specs query taken apart: compiling its SQL, running that SQL with a bare cursor, and the whole query
  with the model instances built.

No gunicorn, no concurrency: one process, one connection, so these are wall times of an idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import load_stack  # noqa: E402
from bench.load_client import CHOICES, DEVICE_CHECK, client_timing  # noqa: E402  (what load.py's participants send)


def median_ms(call, repeats: int) -> float:
    call()  # warm: the first call compiles regular expressions, opens the connection, fills caches
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def started_client(slug: str, serial: int):
    """A test client holding a new participant (Prolific id ``parts-<serial>``), consented and device-checked."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    link = f"/s/{slug}/?PROLIFIC_PID=parts-{serial}&STUDY_ID=bench&SESSION_ID=bench"
    client.get(link, follow=True)
    client.post(link, {"consent": "yes"}, follow=True)
    client.post(f"/s/{slug}/check/", json.dumps(DEVICE_CHECK), content_type="application/json")
    return client


def answer(client, slug: str, spec: dict) -> list[dict]:
    """Answer the trial of ``spec`` as load.py's participants do (runner.js's fields and trial log); the reply's
    next specs. Fails loudly on a refusal."""
    choice = "seen" if spec["stage"] == "training" else CHOICES["pairwise"][0]  # bench/load_setup.py's survey
    timing = client_timing(spec, reaction_ms=500.0, attempts=1)
    reply = client.post(f"/s/{slug}/answer/", {"position": spec["position"], "choice": choice,
                                               "reaction_time_ms": "500", "client_timing": json.dumps(timing)},
                        HTTP_ACCEPT="application/json")
    if reply.status_code != 200:
        raise SystemExit(f"the answer was refused: {reply.status_code} {reply.content[:300]!r}")
    return reply.json()["trials"]


def measure(slug: str, repeats: int) -> list[tuple[str, float]]:
    from django.db import connection

    from surveys import selectors, specs
    from surveys.models import Participant, Survey

    survey = Survey.objects.get(slug=slug)
    client = started_client(slug, serial=1)
    participant = Participant.objects.select_related("survey").filter(survey=survey).latest("pk")
    answers = participant.trials.count()
    # Each answer moves the participant on; one who has finished is replaced inside the call that finished them
    # (one call in --trials is slower; the median leaves it out).
    state = {"client": client, "serial": 1, "specs": client.get(f"/s/{slug}/trials/").json()["trials"]}

    def one_answer():
        state["specs"] = answer(state["client"], slug, state["specs"][0])
        if not state["specs"]:
            state["serial"] += 1
            state["client"] = started_client(slug, state["serial"])
            state["specs"] = state["client"].get(f"/s/{slug}/trials/").json()["trials"]

    # The query specs.upcoming_specs makes (keep the two alike), from the participant's first trial.
    upcoming = lambda: participant.trials.filter(position__gte=0).select_related(  # noqa: E731
        "left_image", "right_image", "left_arm__pool").order_by("position")[: specs.LOOKAHEAD + 1]
    sql, params = upcoming().query.get_compiler(connection.alias).as_sql()

    def raw(statement: str, values=()) -> None:
        with connection.cursor() as cursor:
            cursor.execute(statement, values)
            cursor.fetchall()

    return [
        (f"a whole answer POST (test client; {answers} trials per participant)", median_ms(one_answer, repeats)),
        ("  participant and survey from the session's token", median_ms(
            lambda: selectors.participant_for_token(slug=slug, token=participant.token), repeats)),
        ("  the reply's next trial specs (specs.upcoming_specs)", median_ms(
            lambda: specs.upcoming_specs(participant), repeats)),
        ("    their query, SQL compiled only", median_ms(
            lambda: upcoming().query.get_compiler(connection.alias).as_sql(), repeats)),
        ("    their query's SQL, run with a bare cursor", median_ms(lambda: raw(sql, params), repeats)),
        ("    their query, run and turned into model instances", median_ms(lambda: list(upcoming()), repeats)),
        ("  a bare SELECT 1 round trip", median_ms(lambda: raw("SELECT 1"), repeats)),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--prepared", action="store_true", help="server-side binding (EVALSITE_DB_PREPARED=true)")
    args = parser.parse_args()
    if (reason := load_stack.postgres_missing_reason()) is not None:
        print(f"needs the local PostgreSQL server: {reason}")
        return 1
    with load_stack.fresh_database("evalsite_parts") as db_url, tempfile.TemporaryDirectory() as folder:
        env = load_stack.server_env(db_url, Path(folder))
        env["EVALSITE_DB_PREPARED"] = "true" if args.prepared else "false"
        slug = load_stack.prepare_database(env, trials=args.trials)["slug"]
        os.environ.update(env)
        import django

        django.setup()
        from django.db import connection

        try:
            rows = measure(slug, args.repeats)
        finally:
            connection.close()  # before the database is dropped
    print(f"PostgreSQL {load_stack.postgres_version()} | prepared statements: {'on' if args.prepared else 'off'} | "
          f"median of {args.repeats} calls each, wall ms")
    width = max(len(name) for name, _ in rows)
    for name, ms in rows:
        print(f"{name:<{width}}  {ms:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
