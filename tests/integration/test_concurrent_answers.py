"""Simultaneous answers to one trial, on PostgreSQL with real concurrent connections.

SQLite serialises every write, so races only show on a server database: `make test` runs this
module in its PostgreSQL pass (DATABASE_URL pointing at 127.0.0.1:5432).
"""
import threading

import pytest
from django.db import connection

from surveys import services
from surveys.models import Response

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


@pytest.fixture(autouse=True)
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/test (make test does)")


@pytest.fixture
def participant(make_pool):
    survey = services.survey_create(name="race", pools=[make_pool("a"), make_pool("b")], trials_per_participant=4)
    services.survey_open(survey=survey)
    return services.participant_start(survey=survey)


def _race(participant, choices):
    """Send one answer per choice to trial 0 at the same instant; collect what each got back."""
    barrier = threading.Barrier(len(choices))
    outcomes = [None] * len(choices)

    def answer(index, choice):
        try:
            barrier.wait()
            response, created = services.response_record(participant=participant, position=0, choice=choice)
            outcomes[index] = ("created" if created else "repeat", response.pk)
        except services.SurveyError as error:
            outcomes[index] = (type(error).__name__, None)
        finally:
            connection.close()

    threads = [threading.Thread(target=answer, args=(i, c)) for i, c in enumerate(choices)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_simultaneous_identical_answers_make_one_response(participant):
    outcomes = _race(participant, ["left"] * THREADS)
    assert [kind for kind, _ in outcomes].count("created") == 1
    assert {kind for kind, _ in outcomes} <= {"created", "repeat"}
    assert len({pk for _, pk in outcomes}) == 1
    assert Response.objects.filter(trial__participant=participant).count() == 1


def test_simultaneous_different_answers_keep_the_first_and_refuse_the_rest(participant):
    outcomes = _race(participant, ["left", "right"] * (THREADS // 2))
    assert [kind for kind, _ in outcomes].count("created") == 1
    stored = Response.objects.get(trial__participant=participant)
    for (kind, pk), choice in zip(outcomes, ["left", "right"] * (THREADS // 2)):
        if choice == stored.choice:
            assert kind in {"created", "repeat"} and pk == stored.pk
        else:
            assert kind == "AnswerConflict"
