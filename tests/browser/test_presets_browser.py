"""A participant takes a survey of every preset in Chromium, start to done, by keyboard.

Presets whose published counts take minutes are reduced so that this file runs in about two
minutes: crn-timed (each of the 7 exposures once, 1 catch trial), pix2pix (2 practice trials, 4
main) and hype-time (2 blocks of 3, so the countdown and the staircase's restart are still seen).
Every other preset runs with its own counts.

Each run checks what the contract (docs/participant-protocol.md) promises the researcher: every
answer stored with a complete trial log, the phases in their order, feedback exactly where due,
the countdown at each block, labels on training examples.
"""
import pytest

from surveys import services
from surveys.models import Participant, Trial
from surveys.protocol import PRESETS, preset_protocol
from tests.browser.conftest import RECORD_EVENTS, answer_every_trial, consent, recorded_events

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONTRACT_KEYS = {
    "planned_ms", "frames_planned", "frame_ms", "onset_ms", "offset_ms", "achieved_ms", "frames_achieved", "dropped_frames",
    "max_interval_ms", "decode_ms", "response_ms", "reaction_time_ms", "input", "blur_count", "hidden_count", "focus_lost",
    "viewport", "dpr", "attempts",
}
PHASE_ORDER = [Trial.Phase.TRAINING, Trial.Phase.QUALIFICATION, Trial.Phase.PRACTICE, Trial.Phase.MAIN]
REDUCED = {
    "crn-timed": {"protocol": {"trials_per_cell": 1, "attention_checks": 1}},
    "pix2pix": {"trials": 4, "protocol": {"practice_trials": 2}},
    "hype-time": {"trials": 6, "protocol": {"blocks": 2}},
}


@pytest.fixture
def pools(make_pool):
    bad = make_pool("bad", count=6)
    bad.obviously_bad = True
    bad.save()
    return {"real": make_pool("real", count=12, kind="real"), "generated": make_pool("generated", count=12, kind="generated"),
            "bad": bad}


def preset_survey(name: str, pools):
    reduced = REDUCED.get(name, {})
    protocol = preset_protocol(name, **reduced.get("protocol", {}))
    survey = services.survey_create(
        name=f"preset {name}", pools=[pools["real"], pools["generated"]], preset=name,
        trials_per_participant=reduced.get("trials"), protocol=protocol,
        attention_bad_pool=pools["bad"] if protocol.attention_checks else None,
    )
    return services.survey_open(survey=survey)


def alternate_keys(trial: dict) -> str:
    """Continue on a training example; otherwise ← and → in turn, so that both answers are given."""
    if trial["stage"] == "training":
        return "Enter"
    return "ArrowLeft" if trial["position"] % 2 else "ArrowRight"


@pytest.mark.parametrize("name", list(PRESETS))
def test_participant_completes_the_preset(desktop, live_server, pools, name):
    survey = preset_survey(name, pools)
    page = desktop.new_page()
    page.add_init_script(RECORD_EVENTS)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    consent(page, live_server.url, survey.slug)
    label = _first_training_label(page, survey)
    seen = answer_every_trial(page, alternate_keys)

    participant = Participant.objects.get(survey=survey)
    trials = list(participant.trials.select_related("response").order_by("position"))
    assert participant.is_complete and not errors
    assert [trial["position"] for trial in seen] == [trial.position for trial in trials]
    _assert_phases_in_order(trials)
    _assert_logs_complete(trials, survey)
    events = recorded_events(page)
    _assert_feedback_where_due(trials, survey, events)
    _assert_countdown_at_each_block(trials, survey, events)
    if label:
        shown, truth = label
        assert shown == truth


def _first_training_label(page, survey):
    """The label shown on the first training example, and the truth; None without training."""
    if not survey.get_protocol().training_examples:
        return None
    page.wait_for_selector("#runner[data-state=answerable][data-stage=training]")
    shown = page.locator("#example-label").inner_text()
    first = Trial.objects.select_related("left_arm__pool").get(participant__survey=survey, position=0)
    truth = "This image is real." if first.left_arm.pool.kind == "real" else "This image is generated."
    return shown, truth


def _assert_phases_in_order(trials) -> None:
    phases = [Trial.Phase.MAIN if trial.phase == Trial.Phase.ATTENTION else trial.phase for trial in trials]
    ranks = [PHASE_ORDER.index(phase) for phase in phases]
    assert ranks == sorted(ranks)


def _assert_logs_complete(trials, survey) -> None:
    for trial in trials:
        log = trial.response.client_timing
        assert CONTRACT_KEYS <= set(log), CONTRACT_KEYS - set(log)
        assert log["input"] == "keyboard" and log["attempts"] == 1 and log["reaction_time_ms"] > 0
        assert log["planned_ms"] == trial.exposure_ms
        if trial.exposure_ms is None:
            assert log["offset_ms"] is None and log["frames_planned"] is None
        else:
            assert log["achieved_ms"] > 0 and log["frames_planned"] >= 1 and log["dropped_frames"] is not None


def _assert_feedback_where_due(trials, survey, events) -> None:
    """"Correct" / "wrong" after practice trials, and after test trials when the protocol says; never otherwise."""
    feedback_in_test = survey.get_protocol().feedback
    due = {trial.position for trial in trials if trial.expected_choice and (
        trial.phase == Trial.Phase.PRACTICE or (feedback_in_test and trial.phase in (Trial.Phase.MAIN, Trial.Phase.ATTENTION)))}
    shown = {event["position"]: event["correct"] for event in events if event["name"] == "feedback"}
    assert set(shown) == due
    assert all(shown[trial.position] is trial.response.correct for trial in trials if trial.position in due)
    assert sum(event["name"] == "answer" for event in events) == len(trials)


def _assert_countdown_at_each_block(trials, survey, events) -> None:
    test_trials = [trial for trial in trials if trial.phase in (Trial.Phase.MAIN, Trial.Phase.ATTENTION)]
    block_starts = {trial.position for previous, trial in zip([None] + test_trials, test_trials)
                    if previous is None or previous.block != trial.block}
    counted = {event["position"] for event in events if event["name"] == "countdown"}
    assert counted == (block_starts if survey.get_protocol().countdown_s else set())
