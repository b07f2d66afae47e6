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


# --- Surveys from presets and protocols -----------------------------------------------------------

from django.db import IntegrityError  # noqa: E402

from surveys.models import DEFAULT_REAL_FAKE_QUESTION, Participant, Trial  # noqa: E402
from surveys.protocol import PRESETS, Protocol  # noqa: E402


@pytest.fixture
def real(make_pool):
    return make_pool("real photos", count=12, kind="real")


@pytest.fixture
def generated(make_pool):
    return make_pool("dcgan", count=12, kind="generated")


@pytest.fixture
def bad(make_pool):
    pool = make_pool("scribbles", count=6)
    pool.obviously_bad = True
    pool.save()
    return pool


def roles(survey):
    return sorted((arm.role, arm.pool.name) for arm in survey.arms.select_related("pool"))


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_creates_and_opens_a_survey_that_plans(name, real, generated, bad):
    preset = PRESETS[name]
    survey = services.survey_create(name=name, pools=[real, generated], preset=name, attention_bad_pool=bad)
    assert survey.kind == preset.kind and survey.preset == name
    assert survey.get_protocol() == preset.protocol
    assert survey.question_en == preset.question_en and survey.question_ja == preset.question_ja
    assert survey.trials_per_participant == preset.trials  # with two arms, crn-timed's 7 x 5 is its 35 too
    services.survey_open(survey=survey)
    participant = services.participant_start(survey=survey)
    protocol = preset.protocol
    assert participant.trials.filter(phase="main").count() == preset.trials
    assert participant.trials.filter(phase="attention").count() == protocol.attention_checks
    assert participant.trials.count() == (preset.trials + protocol.attention_checks + protocol.practice_trials
                                          + protocol.training_examples + protocol.qualification_trials)


def test_trials_per_cell_sets_the_main_trial_count(real, generated, make_pool, bad):
    survey = services.survey_create(name="timed", pools=[real, generated, make_pool("gan2")], preset="crn-timed",
                                    trials_per_participant=8, attention_bad_pool=bad)
    assert survey.trials_per_participant == 3 * 7 * 5


def test_without_preset_a_survey_keeps_the_old_defaults(real, generated):
    survey = services.survey_create(name="plain", pools=[real, generated])
    assert survey.kind == "pairwise" and survey.trials_per_participant == 8 and survey.preset == ""
    assert survey.get_protocol() == Protocol() and survey.question_en == "Which image looks more realistic?"


def test_real_fake_without_preset_asks_the_real_fake_question_unless_told(real, generated):
    survey = services.survey_create(name="rf", pools=[real, generated], kind="real_fake")
    assert survey.question_en == DEFAULT_REAL_FAKE_QUESTION["en"]
    asked = services.survey_create(name="rf2", pools=[real, generated], kind="real_fake", question_en="Real?")
    assert asked.question_en == "Real?" and asked.question_ja == DEFAULT_REAL_FAKE_QUESTION["ja"]


def test_prolific_codes_and_a_protocol_as_json_are_stored(real, generated):
    survey = services.survey_create(name="p", pools=[real, generated], protocol={"blocks": 2, "exposures_ms": [250]},
                                    prolific_completion_code="C0DE", prolific_screened_out_code="SCR33N")
    survey.refresh_from_db()
    assert survey.get_protocol() == Protocol(blocks=2, exposures_ms=(250,))
    assert (survey.prolific_completion_code, survey.prolific_screened_out_code) == ("C0DE", "SCR33N")


@pytest.mark.parametrize("kwargs, message", [
    ({"preset": "hype-infinity", "pools": "two generated"}, "real pool and one pool that is not real"),
    ({"preset": "pix2pix", "pools": "two generated"}, "vs_real needs at least one real"),
    ({"preset": "crn-unlimited"}, "need a pool marked obviously bad"),
    ({"preset": "no-such-preset"}, "No preset named"),
    ({"protocol": Protocol(blocks=20)}, "blocks"),
    ({"protocol": {"colour": "red"}}, "Unknown protocol fields"),
    ({"kind": "pairwise", "protocol": Protocol(training_examples=5)}, "real_fake"),
])
def test_impossible_surveys_are_refused_with_a_reason(kwargs, message, real, generated, make_pool):
    if kwargs.get("pools") == "two generated":
        kwargs = {**kwargs, "pools": [generated, make_pool("other gan", kind="generated")]}
    kwargs.setdefault("pools", [real, generated])
    with pytest.raises(services.SurveyError, match=message):
        services.survey_create(name="refused", **kwargs)
    assert not Survey.objects.exists()


def test_an_obviously_bad_pool_cannot_be_compared_nor_a_plain_pool_be_the_bad_one(real, generated, bad):
    with pytest.raises(services.SurveyError, match="attention checks only"):
        services.survey_create(name="s", pools=[real, bad])
    with pytest.raises(services.SurveyError, match="not marked obviously bad"):
        services.survey_create(name="s", pools=[real, generated], preset="crn-unlimited", attention_bad_pool=generated)


def test_attention_arms_get_their_roles(real, generated, bad):
    survey = services.survey_create(name="s", pools=[real, generated], preset="crn-unlimited", attention_bad_pool=bad)
    assert roles(survey) == [("attention_bad", "scribbles"), ("compared", "dcgan"), ("compared", "real photos")]


def test_blur_attention_blurs_the_compared_real_pool(real, generated):
    protocol = Protocol(attention_checks=4, attention_source="blur")
    survey = services.survey_create(name="s", pools=[real, generated], protocol=protocol)
    assert roles(survey) == [("attention_bad", "blurred: real photos"), ("compared", "dcgan"), ("compared", "real photos")]
    assert survey.arms.get(role="attention_bad").pool.obviously_bad


def test_without_a_compared_real_pool_the_attention_real_pool_is_blurred_and_set_against_it(generated, make_pool, real):
    other = make_pool("other gan", kind="generated")
    protocol = Protocol(attention_checks=4, attention_source="blur")
    survey = services.survey_open(survey=services.survey_create(
        name="s", pools=[generated, other], protocol=protocol, attention_real_pool=real))
    assert roles(survey) == [("attention_bad", "blurred: real photos"), ("attention_real", "real photos"),
                             ("compared", "dcgan"), ("compared", "other gan")]
    checks = services.participant_start(survey=survey).trials.filter(phase="attention")
    assert checks.count() == 4
    assert all({c.left_arm.role, c.right_arm.role} == {"attention_bad", "attention_real"} for c in checks)


def test_pairwise_attention_without_any_real_pool_is_refused(generated, make_pool, bad):
    with pytest.raises(services.SurveyError, match="real image against a bad one"):
        services.survey_create(name="s", pools=[generated, make_pool("x", kind="generated")], preset="crn-unlimited",
                               attention_bad_pool=bad)


def test_opening_rechecks_the_plan(real, generated, bad):
    survey = services.survey_create(name="s", pools=[real, generated], preset="crn-unlimited", attention_bad_pool=bad)
    survey.arms.filter(role="attention_bad").delete()
    with pytest.raises(services.SurveyError, match="attention_bad arm"):
        services.survey_open(survey=survey)
    assert Survey.objects.get(pk=survey.pk).status == Survey.Status.DRAFT


# --- Participants: crowd identity, device check ---------------------------------------------------


def test_participant_start_stores_the_crowd_identity(open_survey):
    participant = services.participant_start(survey=open_survey, platform="prolific", worker_id="W1", study_id="S",
                                             crowd_session_id="X")
    participant.refresh_from_db()
    assert (participant.platform, participant.worker_id, participant.study_id, participant.crowd_session_id) == (
        "prolific", "W1", "S", "X")


def test_a_second_session_of_a_worker_raises_and_writes_nothing(open_survey):
    services.participant_start(survey=open_survey, platform="mturk", worker_id="W1")
    with pytest.raises(IntegrityError):
        services.participant_start(survey=open_survey, platform="mturk", worker_id="W1")
    assert Participant.objects.count() == 1
    assert Trial.objects.count() == open_survey.trials_per_participant
    # The same worker id on another platform is someone else.
    services.participant_start(survey=open_survey, platform="prolific", worker_id="W1")


def test_unknown_identity_fields_are_a_programming_error(open_survey):
    with pytest.raises(TypeError, match="nickname"):
        services.participant_start(survey=open_survey, nickname="x")


def test_the_device_check_is_stored_and_counted(open_survey):
    participant = services.participant_start(survey=open_survey)
    services.participant_client_info_record(participant=participant, info={"frame_ms": 16.7, "ok": True})
    services.participant_client_info_record(participant=participant, info={"frame_ms": 8.3, "ok": True})
    participant.refresh_from_db()
    assert participant.client_info == {"frame_ms": 8.3, "ok": True, "checks": 2}


@pytest.mark.parametrize("info", [["a list"], {str(i): i for i in range(51)}, {"note": "x" * 17_000}])
def test_a_malformed_device_check_is_refused(open_survey, info):
    participant = services.participant_start(survey=open_survey)
    with pytest.raises(services.BadAnswer):
        services.participant_client_info_record(participant=participant, info=info)
    participant.refresh_from_db()
    assert participant.client_info == {}
