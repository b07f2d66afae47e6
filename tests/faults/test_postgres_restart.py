"""PostgreSQL restarted while participants answer: no answer lost or doubled, and every participant finishes.

A few dozen simulated participants (bench/load_client.py: the runner's form fields, its retry with backoff on
network errors and 5xx) take a survey served by gunicorn from a database of this test's own. Once a third of
the answers are in, the PostgreSQL server is restarted, which cuts every connection: requests in flight fail,
gunicorn's workers find their database connections dead, and for a moment no new one is accepted. The
clients retry; at the end every answer a client was told was recorded is in the database exactly once, with
the choice sent, no trial has a second response, and every participant has reached the done page.

With persistent connections (conn_max_age 60) each worker also holds a connection that dies with the restart
and must be replaced; with 0 every request opens its own.
"""
import asyncio
import time

import pytest

from bench import load_client, load_stack

pytestmark = pytest.mark.postgres

PARTICIPANTS = 24
TRIALS = 10
THINK_S = 0.3
RUN_LIMIT_S = 180  # a participant still retrying after this long fails the test instead of hanging it


@pytest.fixture(scope="module")
def prepared(postgres_cluster, tmp_path_factory):
    """A fresh database with an open survey; dropped at the end (after the server is up again)."""
    try:
        with load_stack.fresh_database(prefix="evalsite_faults") as db_url:
            folder = tmp_path_factory.mktemp("faults-stack")
            env = load_stack.server_env(db_url, folder)
            yield db_url, env, load_stack.prepare_database(env, trials=TRIALS)
    finally:
        load_stack.postgres_ensure_running()


async def _take_survey_across_a_restart(survey: load_client.Survey, prefix: str) -> tuple[load_client.Tally, int]:
    tally, connector = load_client.Tally(), load_client.new_connector()
    give_up_at = time.monotonic() + RUN_LIMIT_S
    participants = [
        asyncio.create_task(load_client.take_part(survey, f"{prefix}-{index}", connector, tally, THINK_S,
                                                  give_up_at=give_up_at))
        for index in range(PARTICIPANTS)
    ]
    while len(tally.confirmed) < PARTICIPANTS * TRIALS // 3:
        assert not all(task.done() for task in participants), dict(tally.errors)
        await asyncio.sleep(0.05)
    answered_before = len(tally.confirmed)
    try:
        await asyncio.to_thread(load_stack.postgres_restart)
    finally:
        await asyncio.to_thread(load_stack.postgres_ensure_running)
    await asyncio.gather(*participants)
    await connector.close()
    return tally, answered_before


@pytest.mark.parametrize("conn_max_age", [0, 60])
def test_postgres_restart_mid_load_loses_and_doubles_nothing(prepared, conn_max_age):
    db_url, env, prepared_survey = prepared
    prefix = f"restart{conn_max_age}"
    with load_stack.Gunicorn({**env, "EVALSITE_DB_CONN_MAX_AGE": str(conn_max_age)}, workers=3) as server:
        started_before = load_stack.postgres_start_time(db_url)
        survey = load_client.Survey(server.url, prepared_survey["slug"], prepared_survey["kind"])
        tally, answered_before = asyncio.run(_take_survey_across_a_restart(survey, prefix))
        started_after = load_stack.postgres_start_time(db_url)
        server_log = server.log_text()
    audit = load_client.audit(db_url, tally, prefix)
    expected = PARTICIPANTS * TRIALS
    print(f"conn_max_age {conn_max_age}: restart after {answered_before} of {expected} answers; {tally.retries} "
          f"requests retried; {audit}")  # shown with -s, and on failure

    # The fault happened, in the middle of the run, and the clients had to retry through it.
    assert started_after != started_before
    assert 0 < answered_before < expected
    assert tally.retries > 0, "no request failed during the restart: the fault did not hit the load"
    assert "OperationalError" in server_log or "InterfaceError" in server_log, server_log[-3000:]
    # Every participant resumed and finished; the server refused nothing.
    assert dict(tally.errors) == {} and tally.unconfirmed == 0
    assert tally.finished == PARTICIPANTS and audit.completed == PARTICIPANTS
    # Exactly once: all answers confirmed, each stored with its choice, nothing doubled, nothing extra.
    assert audit.confirmed == expected
    assert audit.lost == 0
    assert audit.doubled == 0
    assert audit.stored == expected and audit.unconfirmed_stored == 0
