import pytest

from surveys import services
from surveys.design import pairwise_plan
from surveys.models import Response, Survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_survey(make_pool):
    pools = [make_pool("alpha"), make_pool("beta"), make_pool("gamma")]
    survey = services.survey_create(name="three arms", pools=pools, trials_per_participant=9)
    return services.survey_open(survey=survey)


def test_survey_needs_two_distinct_pools_with_images(make_pool):
    alpha = make_pool("alpha")
    with pytest.raises(services.SurveyError, match="at least two"):
        services.survey_create(name="one", pools=[alpha])
    with pytest.raises(services.SurveyError, match="only once"):
        services.survey_create(name="same twice", pools=[alpha, alpha])


def test_participant_cannot_start_a_draft_or_closed_survey(make_pool):
    survey = services.survey_create(name="draft", pools=[make_pool("a"), make_pool("b")])
    with pytest.raises(services.SurveyNotOpen):
        services.participant_start(survey=survey)
    services.survey_open(survey=survey)
    services.survey_close(survey=survey)
    with pytest.raises(services.SurveyNotOpen):
        services.participant_start(survey=survey)


def test_trials_are_the_plan_of_the_stored_seed(open_survey):
    participant = services.participant_start(survey=open_survey)
    trials = list(participant.trials.order_by("position"))
    images_by_arm = {arm: list(arm.pool.images.order_by("id").values_list("id", flat=True)) for arm in open_survey.arms.all()}
    plan = pairwise_plan(images_by_arm, open_survey.trials_per_participant, participant.seed)
    assert [(t.left_arm, t.right_arm, t.left_image_id, t.right_image_id) for t in trials] == [
        (p.left_arm, p.right_arm, p.left_image, p.right_image) for p in plan
    ]
    for trial in trials:
        assert trial.left_image.pool_id == trial.left_arm.pool_id
        assert trial.right_image.pool_id == trial.right_arm.pool_id


def test_participants_get_different_seeds_and_orders(open_survey):
    first, second = (services.participant_start(survey=open_survey) for _ in range(2))
    assert first.seed != second.seed
    order = lambda p: [(t.left_arm_id, t.right_arm_id, t.left_image_id) for t in p.trials.order_by("position")]
    assert order(first) != order(second)


def test_an_answer_is_recorded_exactly_once(open_survey):
    participant = services.participant_start(survey=open_survey)
    response, created = services.response_record(participant=participant, position=0, choice="left", reaction_time_ms=812.5)
    assert created and response.choice == "left" and response.reaction_time_ms == 812.5
    again, created_again = services.response_record(participant=participant, position=0, choice="left")
    assert not created_again and again.pk == response.pk
    assert Response.objects.filter(trial__participant=participant).count() == 1


def test_a_different_second_answer_is_refused_and_changes_nothing(open_survey):
    participant = services.participant_start(survey=open_survey)
    services.response_record(participant=participant, position=0, choice="left")
    with pytest.raises(services.AnswerConflict):
        services.response_record(participant=participant, position=0, choice="right")
    assert Response.objects.get(trial__participant=participant).choice == "left"


@pytest.mark.parametrize("position", [1, 5, 99, -1])
def test_answering_a_trial_that_is_not_current_is_refused(open_survey, position):
    participant = services.participant_start(survey=open_survey)
    with pytest.raises(services.TrialNotCurrent):
        services.response_record(participant=participant, position=position, choice="left")
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"choice": "middle"},
        {"choice": ""},
        {"choice": "left", "reaction_time_ms": -5.0},
        {"choice": "left", "reaction_time_ms": float("nan")},
        {"choice": "left", "reaction_time_ms": float("inf")},
        {"choice": "left", "client_timing": ["not", "an", "object"]},
        {"choice": "left", "client_timing": {str(i): i for i in range(500)}},
    ],
)
def test_malformed_answers_are_refused_and_write_nothing(open_survey, fields):
    participant = services.participant_start(survey=open_survey)
    with pytest.raises(services.BadAnswer):
        services.response_record(participant=participant, position=0, **fields)
    assert not Response.objects.exists()


def test_the_last_answer_completes_the_participant(open_survey):
    participant = services.participant_start(survey=open_survey)
    for position in range(open_survey.trials_per_participant):
        participant.refresh_from_db()
        assert not participant.is_complete
        services.response_record(participant=participant, position=position, choice="right")
    participant.refresh_from_db()
    assert participant.is_complete


def test_participants_already_started_may_finish_after_closing(open_survey):
    participant = services.participant_start(survey=open_survey)
    services.survey_close(survey=open_survey)
    _, created = services.response_record(participant=participant, position=0, choice="left")
    assert created
    assert Survey.objects.get(pk=open_survey.pk).status == Survey.Status.CLOSED
