"""Answers through the services: choices per trial, correctness, timing validity, attention exclusion,
qualification screen-out, the adaptive exposure, feedback and completion."""
import importlib

import pytest
from django.apps import apps as django_apps

from surveys import services
from surveys.models import Participant, Response, Trial
from surveys.protocol import Protocol, Staircase
from surveys.selectors import participant_current_trial
from surveys.stages import StageCounts
from surveys.timing import frames_for

pytestmark = pytest.mark.django_db

FRAME = 16.0
OTHER = {"left": "right", "right": "left", "real": "generated", "generated": "real", "": "left"}


@pytest.fixture
def pools(make_pool):
    bad = make_pool("bad", count=6)
    bad.obviously_bad = True
    bad.save()
    return {"real": make_pool("real", count=20, kind="real"), "gen": make_pool("gen", count=20, kind="generated"),
            "bad": bad}


@pytest.fixture
def start(pools):
    """A participant of a new open survey of the real and generated pools with this protocol."""
    def _start(kind="pairwise", trials=6, **protocol):
        survey = services.survey_create(name=f"survey {kind} {protocol}", pools=[pools["real"], pools["gen"]], kind=kind,
                                        trials_per_participant=trials, protocol=Protocol(**protocol),
                                        attention_bad_pool=pools["bad"] if protocol.get("attention_checks") else None)
        return services.participant_start(survey=services.survey_open(survey=survey))
    return _start


def timed_log(planned_ms, **changes):
    if planned_ms is None:
        return {"planned_ms": None, "input": "mouse", **changes}
    frames = frames_for(planned_ms, FRAME)
    return {"planned_ms": planned_ms, "frame_ms": FRAME, "frames_planned": frames, "achieved_ms": frames * FRAME,
            "dropped_frames": 0, "focus_lost": False, **changes}


def answer(participant, correct=True, **log_changes):
    """Answer the current trial, rightly or wrongly, with a log as the runner sends it."""
    trial = participant_current_trial(participant=participant)
    choice = trial.expected_choice if correct and trial.expected_choice else OTHER[trial.expected_choice]
    log = timed_log(services.trial_exposure_ms(trial=trial), **log_changes)
    response, created = services.response_record(participant=participant, position=trial.position, choice=choice,
                                                 client_timing=log)
    assert created
    participant.refresh_from_db()
    return response


# --- Choices and correctness ----------------------------------------------------------------------


def test_real_fake_answers_are_scored_against_the_truth(start):
    participant = start("real_fake", trials=8)
    trials = list(participant.trials.order_by("position"))
    for trial in trials:
        services.response_record(participant=participant, position=trial.position, choice="real")
    for trial in trials:
        response = Response.objects.get(trial=trial)
        assert response.correct is (trial.left_arm.pool.kind == "real")
        assert response.valid and response.invalid_reasons == []


def test_a_preference_has_no_correct_answer(make_pool, pools):
    survey = services.survey_open(survey=services.survey_create(name="pref", pools=[pools["gen"], make_pool("gen2")]))
    participant = services.participant_start(survey=survey)
    response, _ = services.response_record(participant=participant, position=0, choice="left")
    assert response.correct is None


@pytest.mark.parametrize("kind, wrong", [("pairwise", "real"), ("pairwise", "seen"), ("real_fake", "left"),
                                         ("real_fake", "seen")])
def test_a_choice_of_the_wrong_kind_is_refused(start, kind, wrong):
    participant = start(kind)
    with pytest.raises(services.BadAnswer, match="This trial takes"):
        services.response_record(participant=participant, position=0, choice=wrong)
    assert not Response.objects.exists()


def test_training_examples_are_acknowledged_with_seen_only(start):
    participant = start("real_fake", training_examples=2)
    with pytest.raises(services.BadAnswer):
        services.response_record(participant=participant, position=0, choice="real")
    response, _ = services.response_record(participant=participant, position=0, choice="seen")
    assert response.correct is True and response.trial.phase == Trial.Phase.TRAINING


# --- Timing ---------------------------------------------------------------------------------------


def test_a_timed_answer_is_checked_against_its_log(start):
    participant = start(exposures_ms=(100,))
    assert answer(participant).valid
    dropped = answer(participant, dropped_frames=2)
    assert not dropped.valid and dropped.invalid_reasons == ["2 dropped frames during the exposure"]
    late = answer(participant, achieved_ms=150.0)
    assert not late.valid and "instead of 96.0 ms" in late.invalid_reasons[0]


def test_a_timed_answer_without_log_is_kept_but_invalid(start):
    participant = start(exposures_ms=(100,))
    response, created = services.response_record(participant=participant, position=0, choice="left")
    assert created and not response.valid and response.invalid_reasons == ["no timing log"]


@pytest.mark.parametrize("sent", [250, None, "100", True])
def test_a_log_of_another_exposure_is_refused(start, sent):
    participant = start(exposures_ms=(100,))
    with pytest.raises(services.BadAnswer, match="planned for 100 ms"):
        services.response_record(participant=participant, position=0, choice="left",
                                 client_timing={**timed_log(100), "planned_ms": sent})
    assert not Response.objects.exists()


def test_an_untimed_trial_with_a_timed_log_is_refused(start):
    participant = start()
    with pytest.raises(services.BadAnswer, match="no time limit"):
        services.response_record(participant=participant, position=0, choice="left", client_timing=timed_log(500))


def test_an_oversized_log_is_refused(start):
    participant = start()
    with pytest.raises(services.BadAnswer, match="bytes"):
        services.response_record(participant=participant, position=0, choice="left",
                                 client_timing={"planned_ms": None, "note": "x" * 70_000})


# --- Attention checks -----------------------------------------------------------------------------


def test_failing_more_attention_checks_than_allowed_excludes_silently(start):
    participant = start(trials=4, attention_checks=3, max_attention_failures=1)
    failures = 0
    while not participant.is_complete:
        trial = participant_current_trial(participant=participant)
        is_check = trial.phase == Trial.Phase.ATTENTION
        answer(participant, correct=not is_check)
        failures += is_check
        if failures <= 1:
            assert participant.exclusion_reason == ""
    assert participant.exclusion_reason == "failed 3 of 3 attention checks (more than 1 allowed)"
    assert participant.is_complete and participant.screened_out_at is None  # they carried on to the end


def test_passing_the_attention_checks_leaves_the_participant_in(start):
    participant = start(trials=4, attention_checks=2)
    while not participant.is_complete:
        answer(participant)
    assert participant.exclusion_reason == ""


# --- Qualification --------------------------------------------------------------------------------


def qualify(participant, wrong_on_real=0, wrong_on_generated=0):
    wrong = {"real": wrong_on_real, "generated": wrong_on_generated}
    while (trial := participant_current_trial(participant=participant)) and trial.phase == Trial.Phase.QUALIFICATION:
        answer(participant, correct=wrong[trial.expected_choice] <= 0)
        wrong[trial.expected_choice] -= 1


def test_below_the_threshold_on_real_images_screens_out(start):
    participant = start("real_fake", qualification_trials=20, qualification_min_accuracy=0.65)
    qualify(participant, wrong_on_real=4, wrong_on_generated=3)  # 60 % on real, 70 % on generated
    assert participant.screened_out_at is not None and not participant.is_complete and participant.is_finished
    assert participant.exclusion_reason == "screened out: 60 % on real, 70 % on generated, 65 % needed on both"
    assert participant_current_trial(participant=participant) is None
    first_main = participant.trials.filter(phase=Trial.Phase.MAIN).order_by("position").first()
    with pytest.raises(services.TrialNotCurrent, match="ended"):
        services.response_record(participant=participant, position=first_main.position, choice="real")
    last = Response.objects.filter(trial__participant=participant).order_by("trial__position").last()
    _, created = services.response_record(participant=participant, position=last.trial.position, choice=last.choice)
    assert not created  # a retry of the last answer is still answered as recorded


def test_below_the_threshold_on_generated_images_screens_out_too(start):
    participant = start("real_fake", qualification_trials=20)
    qualify(participant, wrong_on_generated=4)
    assert participant.exclusion_reason.startswith("screened out: 100 % on real, 60 % on generated")


def test_at_the_threshold_the_participant_goes_on(start):
    participant = start("real_fake", qualification_trials=20, qualification_min_accuracy=0.7)
    qualify(participant, wrong_on_real=3, wrong_on_generated=3)  # exactly 70 % on both
    assert participant.screened_out_at is None and participant.exclusion_reason == ""
    while not participant.is_complete:
        answer(participant)


# --- The adaptive exposure ------------------------------------------------------------------------


def test_the_staircase_follows_the_answers_and_restarts_in_each_block(start):
    participant = start("real_fake", trials=8, blocks=2, staircase=Staircase())
    main = list(participant.trials.filter(phase=Trial.Phase.MAIN).order_by("position"))
    assert all(trial.exposure_ms is None for trial in main)
    assert services.trial_exposure_ms(trial=main[1]) is None  # not current: its exposure is not decided yet
    seen = []
    for correct in [True, False, False, True, True, True, False, True]:
        trial = participant_current_trial(participant=participant)
        seen.append((trial.block, services.trial_exposure_ms(trial=trial)))
        answer(participant, correct=correct)
    assert seen == [(0, 500), (0, 470), (0, 480), (0, 490), (1, 500), (1, 470), (1, 440), (1, 450)]
    stored = list(participant.trials.filter(phase=Trial.Phase.MAIN).order_by("position").values_list("exposure_ms", flat=True))
    assert stored == [exposure for _, exposure in seen]


def test_an_adaptive_exposure_is_decided_once(start):
    participant = start("real_fake", trials=4, staircase=Staircase(start_ms=300))
    trial = participant_current_trial(participant=participant)
    assert services.trial_exposure_ms(trial=trial) == services.trial_exposure_ms(trial=trial) == 300
    Trial.objects.filter(pk=trial.pk).update(exposure_ms=777)  # once stored, it is what counts
    assert services.trial_exposure_ms(trial=Trial.objects.get(pk=trial.pk)) == 777


def test_attention_checks_are_steps_of_the_staircase(start):
    participant = start("real_fake", trials=6, staircase=Staircase(), attention_checks=2)
    expected = 500
    while not participant.is_complete:
        trial = participant_current_trial(participant=participant)
        exposure = services.trial_exposure_ms(trial=trial)
        if trial.phase == Trial.Phase.ATTENTION:
            assert exposure == 1000  # fixed: the staircase's longest
        else:
            assert exposure == expected
        answer(participant, correct=False)  # every answer, checks included, lengthens the next exposure
        expected += 10


def test_an_answer_without_asking_for_the_exposure_still_records_it(start):
    participant = start("real_fake", trials=2, staircase=Staircase())
    response, _ = services.response_record(participant=participant, position=0, choice="real")
    assert response.trial.exposure_ms == 500 and response.invalid_reasons == ["no timing log"]


# --- Feedback and completion ----------------------------------------------------------------------


def test_feedback_in_practice_always_in_the_test_only_when_asked(start):
    participant = start("real_fake", trials=3, practice_trials=2, training_examples=2, attention_checks=1)
    shown = {trial.phase: services.trial_feedback(trial=trial) for trial in participant.trials.all()}
    assert shown == {"training": False, "practice": True, "main": False, "attention": False}
    participant = start("real_fake", trials=3, attention_checks=1, feedback=True)
    assert all(services.trial_feedback(trial=trial) for trial in participant.trials.all())


def test_every_phase_must_be_answered_before_completion(start):
    participant = start("real_fake", trials=3, training_examples=2, qualification_trials=2, practice_trials=2,
                        exposures_ms=(250,), attention_checks=1)
    phases = []
    while not participant.is_complete:
        phases.append(participant_current_trial(participant=participant).phase)
        answer(participant)
    assert phases[:6] == ["training"] * 2 + ["qualification"] * 2 + ["practice"] * 2
    assert sorted(phases[6:]) == ["attention", "main", "main", "main"]
    assert participant.completed_at is not None and participant.exclusion_reason == ""


# --- The stored progress ------------------------------------------------------------------------------


def test_stored_stages_and_progress_match_the_trials_and_answers(start):
    participant = start(kind="real_fake", trials=8, training_examples=2, practice_trials=2, blocks=2, attention_checks=2)
    trials = list(participant.trials.order_by("position"))
    counted = StageCounts.of_trials((trial.phase, trial.block, trial.position) for trial in trials)
    assert StageCounts.from_json(participant.stages) == counted
    assert counted.total == len(trials) == 14 and counted.size == {"training": 2, "practice": 2, "test": 10}
    assert counted.first == {"training": 0, "practice": 2, "test": 4} and len(counted.block_starts) == 2
    for _ in range(5):
        answer(participant)
    assert Participant.objects.get(pk=participant.pk).answered_count == 5 == Response.objects.count()
    assert participant_current_trial(participant=participant).position == 5


def test_the_migration_backfills_participants_started_before_it(start):
    migration = importlib.import_module("surveys.migrations.0003_participant_progress")
    participant = start(kind="pairwise", trials=6, practice_trials=2)
    for _ in range(3):
        answer(participant)
    stored = Participant.objects.values("answered_count", "stages").get(pk=participant.pk)
    Participant.objects.update(answered_count=0, stages={})
    migration.backfill(django_apps, None)
    assert Participant.objects.values("answered_count", "stages").get(pk=participant.pk) == stored
    assert stored["answered_count"] == 3 and stored["stages"]["total"] == 8
