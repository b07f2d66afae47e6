"""The runner's endpoints through Django's test client: trial specs, JSON answers, the device check.

What the specs must never do is the point of most tests here: tell an attention check from a main
trial, a real image from a generated one, or the right answer before it is given.
"""
import json
import re

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from generation.services import pool_import

from surveys import services, specs
from surveys.models import Participant, Response, Trial
from surveys.protocol import preset_protocol
from surveys.selectors import participant_current_trial
from surveys.timing import frames_for
from tests.images import write_images

pytestmark = pytest.mark.django_db

JSON = {"Accept": "application/json"}
FRAME_MS = 16.667
SPEC_KEYS = {"position", "stage", "block", "number", "of", "images", "exposure_ms", "adaptive", "label", "feedback",
             "countdown"}
STATE_KEYS = {"kind", "timed", "choose", "mask_count", "mask_ms", "countdown_s", "total", "finished", "done_url", "trials"}
# What differs from trial to trial by design; everything else in a spec must not depend on the images shown.
PER_TRIAL = {"position", "number", "images"}
GOOD_DEVICE = {"frame_ms": 16.667, "frame_sd_ms": 0.1, "frames": 120, "screen": [1920, 1080], "window": [1280, 800],
               "dpr": 1, "stimulus_px": 512.0, "stimulus_fits": True}


@pytest.fixture
def pools(make_pool):
    bad = make_pool("zz-bad-secret", count=6)
    bad.obviously_bad = True
    bad.save()
    return {"real": make_pool("zz-real-secret", count=12, kind="real"),
            "gen": make_pool("zz-gen-secret", count=12, kind="generated"), "bad": bad}


@pytest.fixture
def take(client, pools):
    """Start a participant (through the consent page) of a new open survey; returns the survey."""
    def _take(kind="pairwise", trials=6, preset="", protocol=None):
        survey = services.survey_create(
            name="zz-survey-secret", pools=[pools["real"], pools["gen"]], kind=kind, preset=preset,
            trials_per_participant=trials, protocol=protocol,
            attention_bad_pool=pools["bad"] if protocol and protocol.attention_checks else None,
        )
        services.survey_open(survey=survey)
        assert client.post(url("welcome", survey), {"consent": "yes"}).status_code == 302
        return survey
    return _take


def url(name, survey):
    return reverse(f"surveys:{name}", kwargs={"slug": survey.slug})


def participant_of(survey) -> Participant:
    return Participant.objects.get(survey=survey)


def runner_log(spec: dict) -> dict:
    """A trial log as runner.js sends it for ``spec``, timed as planned."""
    exposure = spec["exposure_ms"]
    if exposure is None:
        return {"planned_ms": None, "frame_ms": FRAME_MS, "achieved_ms": None, "dropped_frames": None, "focus_lost": False}
    frames = frames_for(exposure, FRAME_MS)
    return {"planned_ms": exposure, "frame_ms": FRAME_MS, "frames_planned": frames, "achieved_ms": frames * FRAME_MS,
            "frames_achieved": frames, "dropped_frames": 0, "focus_lost": False}


def answer(client, survey, spec: dict, choice: str):
    return client.post(url("answer", survey), {"position": spec["position"], "choice": choice, "reaction_time_ms": "500",
                                               "client_timing": json.dumps(runner_log(spec))}, headers=JSON)


def right_choice(trial: Trial, survey) -> str:
    if trial.expected_choice:
        return trial.expected_choice
    return "left" if survey.kind == "pairwise" else "real"


def walk(client, survey, choose=right_choice) -> list[tuple[dict, dict]]:
    """Answer every trial through the endpoints; (spec as current, answer reply) for each."""
    steps = []
    state = client.get(url("trials", survey)).json()
    current = state["trials"]
    while current:
        spec = current[0]
        trial = Trial.objects.get(participant__survey=survey, position=spec["position"])
        reply = answer(client, survey, spec, choose(trial, survey))
        assert reply.status_code == 200, reply.content
        steps.append((spec, reply.json()))
        current = reply.json()["trials"]
    return steps


def shape(spec: dict) -> dict:
    return {key: value for key, value in spec.items() if key not in PER_TRIAL}


# --- GET trials/ ------------------------------------------------------------------------------------


def test_trials_reply_holds_the_current_trial_and_the_next_five(client, take):
    survey = take(trials=8)
    state = client.get(url("trials", survey)).json()
    assert set(state) == STATE_KEYS
    assert (state["kind"], state["timed"], state["total"], state["finished"]) == ("pairwise", False, 8, False)
    assert state["done_url"] == url("done", survey)
    assert [spec["position"] for spec in state["trials"]] == list(range(specs.LOOKAHEAD + 1))
    first = state["trials"][0]
    assert set(first) == SPEC_KEYS
    assert (first["stage"], first["number"], first["of"], first["exposure_ms"], first["label"]) == ("test", 1, 8, None, None)
    for spec in state["trials"]:
        assert len(spec["images"]) == 2
        assert all(re.fullmatch(rf"/s/{survey.slug}/img/[A-Za-z0-9_-]{{22}}", image) for image in spec["images"])
        assert all(client.get(image).status_code == 200 for image in spec["images"])  # each one preloadable


def test_trials_reply_follows_the_answers_and_ends_finished(client, take):
    survey = take(trials=3)
    steps = walk(client, survey)
    assert [spec["position"] for spec, _ in steps] == [0, 1, 2]
    assert [reply["finished"] for _, reply in steps] == [False, False, True]
    assert [reply["created"] for _, reply in steps] == [True] * 3
    assert steps[-1][1]["trials"] == []
    state = client.get(url("trials", survey)).json()
    assert state["finished"] is True and state["trials"] == []


def test_specs_do_not_tell_attention_checks_from_main_trials(client, take):
    protocol = preset_protocol("crn-timed", trials_per_cell=1, attention_checks=3)
    survey = take(preset="crn-timed", protocol=protocol)
    phases = dict(Trial.objects.filter(participant__survey=survey).values_list("position", "phase"))
    assert list(phases.values()).count(Trial.Phase.ATTENTION) == 3
    steps = walk(client, survey)
    by_phase = {Trial.Phase.MAIN: set(), Trial.Phase.ATTENTION: set()}
    for spec, _reply in steps:
        by_phase[phases[spec["position"]]].add(json.dumps(shape(spec), sort_keys=True))
    # Every attention check's spec, exposure (4 s) included, is also the spec of some main trial.
    assert by_phase[Trial.Phase.ATTENTION] <= by_phase[Trial.Phase.MAIN]
    assert all(json.loads(spec)["stage"] == "test" for spec in by_phase[Trial.Phase.ATTENTION])


def test_staircase_exposure_is_given_once_the_trial_is_current(client, take):
    survey = take(kind="real_fake", preset="hype-time", trials=4, protocol=preset_protocol("hype-time", blocks=1))
    later = client.get(url("trials", survey)).json()["trials"][1:]
    assert later and all(spec["adaptive"] is True and spec["exposure_ms"] is None for spec in later)
    wrong = {"real": "generated", "generated": "real"}
    steps = walk(client, survey, choose=lambda trial, _s: wrong[trial.expected_choice] if trial.position == 1
                 else trial.expected_choice)
    # 500 ms to start; right: -30 ms; wrong: +10 ms; right: -30 ms.
    assert [spec["exposure_ms"] for spec, _ in steps] == [500, 470, 480, 450]
    assert all(spec["exposure_ms"] is None for _, reply in steps for spec in reply["trials"][1:])


def test_staircase_attention_checks_are_announced_as_adaptive_too(client, take):
    protocol = preset_protocol("hype-time", blocks=1, attention_checks=3, max_attention_failures=3)
    survey = take(kind="real_fake", preset="hype-time", trials=3, protocol=protocol)
    phases = dict(Trial.objects.filter(participant__survey=survey).values_list("position", "phase"))
    state = client.get(url("trials", survey)).json()
    assert {phases[spec["position"]] for spec in state["trials"]} == {Trial.Phase.MAIN, Trial.Phase.ATTENTION}
    assert all(spec["adaptive"] is True for spec in state["trials"])
    assert all(spec["exposure_ms"] is None for spec in state["trials"][1:])
    for spec, _ in walk(client, survey):
        assert spec["adaptive"] is True and spec["exposure_ms"] is not None


def test_countdown_comes_at_the_first_trial_of_each_block(client, take):
    protocol = preset_protocol("hype-time", blocks=3)
    survey = take(kind="real_fake", preset="hype-time", trials=9, protocol=protocol)
    steps = walk(client, survey)
    blocks = [spec["block"] for spec, _ in steps]
    assert [spec["countdown"] for spec, _ in steps] == [i == 0 or blocks[i] != blocks[i - 1] for i in range(len(blocks))]
    assert sum(spec["countdown"] for spec, _ in steps) == 3


def test_training_examples_carry_their_label_and_nothing_else_does(client, take):
    protocol = preset_protocol("simgan-vtt", training_examples=4)
    survey = take(kind="real_fake", preset="simgan-vtt", trials=4, protocol=protocol)
    steps = walk(client, survey, choose=lambda trial, s: "seen" if trial.phase == Trial.Phase.TRAINING else "real")
    for spec, _ in steps:
        trial = Trial.objects.select_related("left_arm__pool").get(participant__survey=survey, position=spec["position"])
        if trial.phase == Trial.Phase.TRAINING:
            assert spec["stage"] == "training" and spec["label"] == ("real" if trial.left_arm.pool.kind == "real" else "generated")
        else:
            assert spec["stage"] == "test" and spec["label"] is None
    assert [spec["number"] for spec, _ in steps] == [1, 2, 3, 4, 1, 2, 3, 4]


def test_real_and_generated_images_get_the_same_spec(client, take):
    survey = take(kind="real_fake", preset="hype-infinity", trials=8)
    steps = walk(client, survey)
    kinds = {}
    for spec, _ in steps:
        trial = Trial.objects.select_related("left_arm__pool").get(participant__survey=survey, position=spec["position"])
        kinds.setdefault(trial.left_arm.pool.kind, set()).add(json.dumps(shape(spec), sort_keys=True))
    assert set(kinds) == {"real", "generated"}
    assert kinds["real"] == kinds["generated"]


def test_feedback_comes_only_with_the_reply_to_a_practice_answer(client, take):
    protocol = preset_protocol("pix2pix", practice_trials=2)
    survey = take(preset="pix2pix", trials=2, protocol=protocol)
    before = client.get(url("trials", survey)).content.decode()
    assert "expected" not in before and "correct" not in before
    wrong = {"left": "right", "right": "left"}
    steps = walk(client, survey, choose=lambda trial, _s: wrong[trial.expected_choice] if trial.position == 0
                 else trial.expected_choice)
    stages = [spec["stage"] for spec, _ in steps]
    assert stages == ["practice", "practice", "test", "test"]
    assert [spec["feedback"] for spec, _ in steps] == [True, True, False, False]
    feedback = [reply["feedback"] for _, reply in steps]
    first = Trial.objects.get(participant__survey=survey, position=0)
    assert feedback[0] == {"correct": False, "expected": first.expected_choice}
    assert feedback[1]["correct"] is True and feedback[2:] == [None, None]


def test_no_pool_name_kind_or_phase_reaches_the_json(client, take, pools):
    protocol = preset_protocol("crn-unlimited", attention_checks=2)
    survey = take(preset="crn-unlimited", trials=4, protocol=protocol)
    bodies = [client.get(url("trials", survey)).content.decode()]
    state = client.get(url("trials", survey)).json()
    while state["trials"]:
        trial = participant_current_trial(participant=participant_of(survey))
        reply = answer(client, survey, state["trials"][0], right_choice(trial, survey))
        bodies.append(reply.content.decode())
        state = reply.json()
    forbidden = {"zz-real-secret", "zz-gen-secret", "zz-bad-secret", "zz-survey-secret", "attention", "imported"}
    for image in pools["real"].images.all():
        forbidden |= {image.sha256, image.source_name}
    for body in bodies:
        assert not any(secret in body for secret in forbidden), body


def test_a_failed_qualification_ends_the_trials_in_the_reply(client, take):
    protocol = preset_protocol("hype-infinity", qualification_trials=2, qualification_min_accuracy=1.0)
    survey = take(kind="real_fake", preset="hype-infinity", trials=4, protocol=protocol)
    wrong = {"real": "generated", "generated": "real"}
    steps = walk(client, survey, choose=lambda trial, _s: wrong[trial.expected_choice])
    assert [spec["stage"] for spec, _ in steps] == ["qualification", "qualification"]
    assert steps[-1][1]["finished"] is True and steps[-1][1]["trials"] == []
    assert client.get(url("trials", survey)).json()["finished"] is True


# --- POST answer/ ---------------------------------------------------------------------------------


def test_repeated_json_answer_is_answered_as_recorded(client, take):
    survey = take(trials=3)
    spec = client.get(url("trials", survey)).json()["trials"][0]
    first, again = answer(client, survey, spec, "left").json(), answer(client, survey, spec, "left").json()
    assert (first["recorded"], first["created"]) == (True, True)
    assert (again["recorded"], again["created"]) == (True, False)
    assert again["trials"] == first["trials"] and again["trials"][0]["position"] == 1
    assert Response.objects.count() == 1


def test_conflicting_json_answer_says_so(client, take):
    survey = take(trials=3)
    spec = client.get(url("trials", survey)).json()["trials"][0]
    answer(client, survey, spec, "left")
    refused = answer(client, survey, spec, "right")
    assert refused.status_code == 409 and refused.json() == {"recorded": False, "conflict": True,
                                                             "error": refused.json()["error"]}


# The round trips of one answer: session, participant with its survey, BEGIN, participant locked, the trial,
# SAVEPOINT, INSERT, RELEASE, progress UPDATE, COMMIT, the next specs. What a load of participants pays per answer.
MAX_ANSWER_QUERIES = 11


@pytest.mark.parametrize("trials", [6, 60])
def test_an_answer_costs_the_same_few_queries_whatever_the_participant_s_progress(client, take, trials):
    survey = take(trials=trials)
    replies = client.get(url("trials", survey)).json()["trials"]
    counts = []
    for _ in range(4):
        with CaptureQueriesContext(connection) as queries:
            reply = answer(client, survey, replies[0], "left")
        assert reply.status_code == 200 and reply.json()["created"] is True
        counts.append(len(queries))
        replies = reply.json()["trials"]
    assert len(set(counts)) == 1 and counts[0] <= MAX_ANSWER_QUERIES, [q["sql"] for q in queries.captured_queries]
    assert participant_of(survey).answered_count == 4


def test_endpoints_without_a_session_answer_403_in_json(client, take):
    survey = take(trials=3)
    client.cookies.clear()
    for response in (client.get(url("trials", survey)), client.post(url("check", survey), "{}", content_type="application/json"),
                     client.post(url("answer", survey), {"position": 0, "choice": "left"}, headers=JSON)):
        assert response.status_code == 403 and response.json()["recorded"] is False


# --- POST check/ ----------------------------------------------------------------------------------


def check(client, survey, **changes):
    return client.post(url("check", survey), json.dumps({**GOOD_DEVICE, **changes}), content_type="application/json")


def test_check_is_stored_and_a_good_device_passes(client, take):
    survey = take(preset="pix2pix", trials=2, protocol=preset_protocol("pix2pix"))
    reply = check(client, survey, extra_field="ignored")
    assert reply.json() == {"recorded": True, "ok": True, "problems": []}
    info = participant_of(survey).client_info
    assert info["frame_ms"] == 16.667 and info["window"] == [1280, 800] and info["ok"] is True
    assert "extra_field" not in info


@pytest.mark.parametrize("changes, code, numbers", [
    ({"frame_ms": 33.3}, "refresh", ["33.3", "30 Hz"]),
    ({"frame_ms": 4.2}, "refresh", ["4.2"]),
    ({"frame_sd_ms": 2.6}, "irregular", ["2.6"]),
    ({"stimulus_px": 10.0}, "window", ["10", "16"]),
    ({"stimulus_fits": False}, "window", []),
])
def test_timed_survey_refuses_a_device_it_cannot_time_and_says_why(client, take, changes, code, numbers):
    survey = take(preset="pix2pix", trials=2, protocol=preset_protocol("pix2pix"))
    reply = check(client, survey, **changes).json()
    assert reply["ok"] is False and [problem["code"] for problem in reply["problems"]] == [code]
    assert all(number in reply["problems"][0]["message"] for number in numbers), reply["problems"][0]["message"]
    assert participant_of(survey).client_info["problems"] == [code]


def test_images_must_get_their_natural_width_up_to_256_px(client, take, tmp_path):
    small = take(preset="pix2pix", trials=2, protocol=preset_protocol("pix2pix"))
    assert specs.minimum_stimulus_px(small) == 16  # the test pools' images are 16 px wide
    assert check(client, small, stimulus_px=16.0).json()["ok"] is True
    large = []
    for kind in ("real", "generated"):
        write_images(tmp_path / kind, 2, prefix=kind, size=(300, 200))
        large.append(pool_import(name=f"large {kind}", source=tmp_path / kind, kind=kind).pool)
    survey = services.survey_create(name="large", pools=large, preset="pix2pix", trials_per_participant=2)
    assert specs.minimum_stimulus_px(survey) == 256 and specs.stimulus_size(survey) == (300, 200)


def test_untimed_survey_takes_any_device(client, take):
    survey = take(trials=2)
    reply = check(client, survey, frame_ms=40.0, frame_sd_ms=9.0, stimulus_fits=False).json()
    assert reply == {"recorded": True, "ok": True, "problems": []}


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"frame_ms": "x" * 5000})])
def test_unreadable_check_is_refused(client, take, body):
    survey = take(trials=2)
    reply = client.post(url("check", survey), body, content_type="application/json")
    assert reply.status_code == 400 and reply.json()["recorded"] is False
    assert participant_of(survey).client_info == {}


def test_check_keeps_only_finite_numbers(client, take):
    survey = take(trials=2)
    body = '{"frame_ms": NaN, "frame_sd_ms": Infinity, "window": [800, NaN, 600], "stimulus_fits": 1}'
    assert client.post(url("check", survey), body, content_type="application/json").status_code == 200
    info = participant_of(survey).client_info
    assert "frame_ms" not in info and "frame_sd_ms" not in info and "stimulus_fits" not in info
    assert info["window"] == [800, 600]


# --- The page -------------------------------------------------------------------------------------


def test_timed_page_shows_nothing_without_javascript_but_says_why(client, take):
    survey = take(preset="pix2pix", trials=2, protocol=preset_protocol("pix2pix"))
    html = client.get(url("trial", survey)).content.decode()
    assert "<noscript>" in html and "needs JavaScript" in html
    assert "<img" not in html  # the runner inserts images only for their exposure
    assert 'class="runner needs-js"' in html


def test_untimed_real_fake_page_works_as_a_form(client, take):
    survey = take(kind="real_fake", preset="hype-infinity", trials=2)
    html = client.get(url("trial", survey)).content.decode()
    assert "<noscript>" not in html
    assert len(re.findall(rf'<img src="/s/{survey.slug}/img/', html)) == 1
    assert 'name="choice" value="real"' in html and 'name="choice" value="generated"' in html
    assert client.post(url("answer", survey), {"position": 0, "choice": "generated"}).status_code == 302
    assert Response.objects.get().choice == "generated"


def runner_text_keys() -> set[str]:
    """The texts runner.js looks up: text.key, text["key"], format("key", ...), and the stage lines."""
    source = (settings.BASE_DIR / "surveys" / "static" / "surveys" / "runner.js").read_text()
    keys = set(re.findall(r'\btext\.(\w+)', source)) | set(re.findall(r'\btext\["([\w-]+)"\]', source))
    return keys | {f"stage-{stage}" for stage in ("training", "qualification", "practice")} | {"label-real", "label-generated"}


@pytest.mark.parametrize("kind, preset", [("pairwise", ""), ("real_fake", "simgan-vtt")])
def test_the_page_carries_every_text_the_runner_shows(client, take, kind, preset):
    survey = take(kind=kind, preset=preset, trials=2)
    html = client.get(url("trial", survey)).content.decode()
    catalog = html[html.index('<template id="runner-text">'):html.index("</template>")]
    provided = set(re.findall(r'data-text="([\w-]+)"', catalog))
    needed = runner_text_keys() - ({"hint-example", "label-real", "label-generated"} if kind == "pairwise" else set())
    assert needed <= provided, needed - provided
    if kind == "real_fake":  # without JavaScript the first example is labelled by the server
        assert 'id="stage-note">Example 1 of 20</p>' in html and "This image is" in html
