"""Surveys with answers written straight through the ORM, so each test knows every response."""
import itertools

import pytest
from django.utils import timezone

from generation.models import ImagePool, PoolImage
from surveys.models import Participant, Response, Survey, SurveyArm, Trial

_unique = itertools.count()


def make_pool_rows(name: str, images: int = 2) -> ImagePool:
    """A pool with image rows only: analysis never opens the files."""
    pool = ImagePool.objects.create(name=name, kind=ImagePool.Kind.IMPORTED)
    for _ in range(images):
        n = next(_unique)
        PoolImage.objects.create(pool=pool, file=f"pool_images/fake-{n}.png", sha256=f"{n:064x}", width=16, height=16)
    return pool


def make_survey(name: str, arms: list[tuple[str, int]], created_by=None) -> tuple[Survey, dict[str, SurveyArm]]:
    """A survey with arms given as (label, position), created in the order given; the researcher pages show it
    only to ``created_by`` (and superusers)."""
    survey = Survey.objects.create(name=name, status=Survey.Status.OPEN, created_by=created_by)
    by_label = {
        label: SurveyArm.objects.create(
            survey=survey, pool=make_pool_rows(f"{name}/{label}"), label=label, position=position
        )
        for label, position in arms
    }
    return survey, by_label


def answer(participant: Participant, left: SurveyArm, right: SurveyArm, choice: str, **fields) -> Response:
    """Append a trial to ``participant`` and record ``choice`` ("left" or "right") for it."""
    trial = Trial.objects.create(
        participant=participant,
        position=participant.trials.count(),
        left_arm=left,
        right_arm=right,
        left_image=left.pool.images.first(),
        right_image=right.pool.images.first(),
    )
    return Response.objects.create(trial=trial, choice=choice, **fields)


def answer_pairs(participant: Participant, arms: dict[str, SurveyArm], answers: list[tuple[str, str, str]]) -> None:
    """``answers`` as (left label, right label, chosen label)."""
    for left, right, chosen in answers:
        answer(participant, arms[left], arms[right], "left" if chosen == left else "right", reaction_time_ms=800.0)


@pytest.fixture
def known_survey(researcher):
    """Three arms created out of position order; known answers from two participants.

    A-B: 10 trials, A chosen 7 (A on either side).  A-C: 3 trials, C chosen 3.  B-C: none.
    The completed participant gave 6 of them (A-B: 4 with A chosen 3; A-C: 2, C chosen 2).
    """
    survey, arms = make_survey("known", [("C", 2), ("A", 0), ("B", 1)], created_by=researcher)
    done = Participant.objects.create(survey=survey, completed_at=timezone.now())
    answer_pairs(
        done,
        arms,
        [("A", "B", "A"), ("B", "A", "A"), ("B", "A", "A"), ("A", "B", "B"), ("C", "A", "C"), ("A", "C", "C")],
    )
    partial = Participant.objects.create(survey=survey)
    answer_pairs(
        partial,
        arms,
        [("A", "B", "A"), ("A", "B", "A"), ("B", "A", "A"), ("A", "B", "A"), ("B", "A", "B"), ("B", "A", "B"),
         ("C", "A", "C")],
    )
    Participant.objects.create(survey=survey)  # started, answered nothing
    return survey, arms
