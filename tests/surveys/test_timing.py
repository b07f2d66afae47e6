"""Trial validity from the browser's log (surveys.timing): the contract's tolerance, dropped frames, focus."""
import pytest

from surveys.timing import NO_LOG, frames_for, trial_validity

FRAME = 16.0  # exactly representable, so boundaries are exact


def timed_log(planned_ms=100, frame_ms=FRAME, **changes):
    frames = frames_for(planned_ms, frame_ms)
    log = {"planned_ms": planned_ms, "frame_ms": frame_ms, "frames_planned": frames, "achieved_ms": frames * frame_ms,
           "dropped_frames": 0, "blur_count": 0, "hidden_count": 0, "focus_lost": False}
    return {**log, **changes}


@pytest.mark.parametrize("exposure, frame, frames", [
    (100, 16.0, 6),  # 6.25 -> 6
    (40, 16.0, 3),  # 2.5 rounds half up -> 3
    (24, 16.0, 2),  # 1.5 -> 2
    (23.8, 16.0, 1),  # 1.4875: more than 0.01 frame below the half
    (23.9, 16.0, 2),  # 1.494: within 0.01 frame of the half, so it counts as one
    (1, 16.0, 1),  # never fewer than one frame
    (125, 16.7, 7),  # 7.485 -> 7
    (125, 1000 / 60, 8),  # 7.5, though 7.4999999 in doubles: a half, so 8
    (125, 16.667, 8),  # 7.49985: F measured a hair long still gives 8, so F's last digits do not decide
    (125, 16.6664, 8),
    (50, 20.0, 3),  # 2.5 -> 3
    (1000, 1000 / 144, 144),
])
def test_frames_for_rounds_half_up_with_one_frame_at_least(exposure, frame, frames):
    assert frames_for(exposure, frame) == frames


def test_a_log_as_planned_is_valid():
    assert trial_validity(timed_log(), 100) == (True, [])


def test_achieved_exactly_half_a_frame_plus_one_ms_off_is_still_valid():
    tolerance = FRAME / 2 + 1  # 9 ms
    for achieved in (96 + tolerance, 96 - tolerance):
        assert trial_validity(timed_log(achieved_ms=achieved), 100) == (True, [])


def test_a_bit_more_than_the_tolerance_is_invalid_and_says_by_how_much():
    for achieved in (105.01, 86.99):
        valid, reasons = trial_validity(timed_log(achieved_ms=achieved), 100)
        assert not valid
        assert len(reasons) == 1 and "instead of 96.0 ms" in reasons[0] and "9.0 ms" in reasons[0]


def test_tolerance_holds_at_an_inexact_frame_period():
    frame = 1000 / 60
    frames = frames_for(100, frame)
    assert trial_validity(timed_log(frame_ms=frame, achieved_ms=frames * frame + frame / 2 + 1), 100)[0]
    assert not trial_validity(timed_log(frame_ms=frame, achieved_ms=frames * frame + frame / 2 + 1.01), 100)[0]


def test_one_dropped_frame_makes_it_invalid():
    valid, reasons = trial_validity(timed_log(dropped_frames=1), 100)
    assert not valid and reasons == ["1 dropped frame during the exposure"]


@pytest.mark.parametrize("changes", [{"focus_lost": True}, {"focus_lost": None},
                                     {"focus_lost": None, "blur_count": 1}])
def test_lost_focus_makes_it_invalid(changes):
    valid, reasons = trial_validity(timed_log(**changes), 100)
    assert not valid and "lost focus" in reasons[0]


def test_without_focus_lost_the_blur_and_hidden_counts_decide():
    log = timed_log()
    del log["focus_lost"]
    assert trial_validity(log, 100) == (True, [])
    assert not trial_validity({**log, "hidden_count": 2}, 100)[0]
    assert not trial_validity({**log, "blur_count": 1}, 100)[0]


def test_focus_lost_false_decides_over_blurs_outside_the_trial():
    assert trial_validity(timed_log(blur_count=3, focus_lost=False), 100) == (True, [])


def test_frames_planned_by_the_browser_must_match_the_server_count():
    valid, reasons = trial_validity(timed_log(frames_planned=7), 100)
    assert not valid and "7 frames planned by the browser, 6 expected" in reasons[0]


@pytest.mark.parametrize("missing", ["frame_ms", "achieved_ms", "frames_planned"])
def test_a_timed_log_needs_its_numbers(missing):
    log = timed_log()
    del log[missing]
    assert trial_validity(log, 100) == (False, [f"no {missing} in the timing log"])
    assert trial_validity({**timed_log(), missing: "16"}, 100)[0] is False


def test_several_problems_are_all_reported():
    valid, reasons = trial_validity(timed_log(achieved_ms=300, dropped_frames=2, focus_lost=True), 100)
    assert not valid and len(reasons) == 3


def test_a_timed_trial_without_log_is_invalid_an_untimed_one_valid():
    assert trial_validity(None, 500) == (False, [NO_LOG])
    assert trial_validity({}, 500) == (False, [NO_LOG])
    assert trial_validity(None, None) == (True, [])
    assert trial_validity({"planned_ms": None, "input": "mouse"}, None) == (True, [])
