"""Fuzzing the anonymous participant endpoints with Hypothesis: whatever a browser (or a script) sends, the reply is
a success for a valid request or a clear 4xx, never a 5xx, and a refused request writes nothing.

Examples are few and derandomized (the same ones on every run), so that the file stays well under a minute.
"""
import json
from urllib.parse import quote, urlencode

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings, strategies as st

from generation.models import ImagePool, PoolImage
from surveys import services
from surveys.models import Participant, Response, Trial
from surveys.protocol import Protocol

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=80, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])

# --- what a request may carry ------------------------------------------------------------------------------------

TIMING_KEYS = ["planned_ms", "frames_planned", "frame_ms", "onset_ms", "offset_ms", "achieved_ms", "frames_achieved",
               "dropped_frames", "max_interval_ms", "decode_ms", "response_ms", "reaction_time_ms", "input",
               "blur_count", "hidden_count", "focus_lost", "viewport", "dpr", "attempts"]
CHECK_KEYS = ["frame_ms", "frame_sd_ms", "frames", "late_frames", "frame_runs", "screen", "window", "dpr",
              "stimulus_px", "stimulus_fits"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), st.sampled_from(["\x00", "\ud7ff", "0", ""]),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def json_objects(keys: list[str]) -> st.SearchStrategy[dict]:
    """Objects with the endpoint's own keys (values of any type) and some others."""
    known = st.dictionaries(st.sampled_from(keys), json_values | st.sampled_from([250, 500, 16.667, 0, -1]), max_size=len(keys))
    return st.builds(lambda a, b: {**b, **a}, known, st.dictionaries(st.text(max_size=12), json_values, max_size=3))


def any_json_text(keys: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        json_objects(keys).map(json.dumps),  # Python writes NaN and Infinity, which JSON has not
        json_values.map(json.dumps),
        st.text(max_size=100),
        st.integers(1, 50_000).map(lambda depth: "[" * depth + "]" * depth),  # deeper than any parser's stack
        st.integers(1, 5_000).map(lambda n: json.dumps({f"k{i}": i for i in range(n)})),
        st.integers(60, 200).map(lambda n: json.dumps({"input": "x" * n * 1000})),
    )


numbers_as_text = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str), st.floats().map(repr), st.text(max_size=20),
    st.sampled_from(["", "nan", "inf", "-inf", "1e309", "-0", "0x10", " 7 ", "٣", "9" * 4400, "9" * 4000]),
)
CURRENT = "<the current trial>"


@st.composite
def answer_posts(draw) -> dict:
    fields = {
        "position": draw(st.one_of(st.just(CURRENT), numbers_as_text)),
        "choice": draw(st.one_of(st.sampled_from(["left", "right", "real", "generated", "seen"]), st.text(max_size=12))),
        "reaction_time_ms": draw(numbers_as_text),
        "client_timing": draw(any_json_text(TIMING_KEYS)),
    }
    for name in draw(st.sets(st.sampled_from(sorted(fields)))):  # leave some out
        del fields[name]
    fields.update(draw(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=2)))
    return fields


# --- the site under test -----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    """The limits answer 429 on their own tests; here every request must reach its view."""
    settings.EVALSITE_RATE_LIMITS_ENABLED = False


@pytest.fixture
def surveys(make_pool):
    pools = [make_pool("fz-real", count=10, kind="real"), make_pool("fz-gen", count=10, kind="generated")]
    untimed = services.survey_create(name="untimed", pools=pools, trials_per_participant=60)
    timed = services.survey_create(name="timed", pools=pools, trials_per_participant=60,
                                   protocol=Protocol(exposures_ms=(250, 500)))
    return [services.survey_open(survey=survey) for survey in (untimed, timed)]


def started(survey) -> Client:
    client = Client()
    assert client.post(reverse("surveys:welcome", kwargs={"slug": survey.slug}), {"consent": "yes"}).status_code == 302
    return client


def written() -> tuple:
    """Everything a participant request could write."""
    return (
        list(Participant.objects.order_by("pk").values()),
        Trial.objects.count(),
        list(Response.objects.order_by("pk").values()),
        sorted(Session.objects.values_list("session_key", "session_data")),
        ImagePool.objects.count(), PoolImage.objects.count(),
    )


def assert_clear(response, before: tuple) -> None:
    """A success, a redirect, or a 4xx with a message that wrote nothing."""
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        assert written() == before
        if response.status_code not in (404, 405):  # Django's own short pages
            assert response.content.strip(), "a refusal says why"
        if response.get("Content-Type", "").startswith("application/json"):
            assert response.json()["error"]


def current_position(client, survey) -> str:
    trials = client.get(reverse("surveys:trials", kwargs={"slug": survey.slug}), headers={"Accept": "application/json"})
    upcoming = trials.json()["trials"]
    return str(upcoming[0]["position"]) if upcoming else "0"


# --- the tests ---------------------------------------------------------------------------------------------------


def test_any_answer_post_is_answered_clearly_and_a_refusal_writes_nothing(surveys):
    clients = {survey.pk: started(survey) for survey in surveys}

    @FUZZ
    @given(st.sampled_from(surveys), answer_posts(), st.booleans())
    @example(surveys[0], {"position": CURRENT, "choice": "left", "client_timing": "[" * 100_000 + "]" * 100_000}, True)
    @example(surveys[0], {"position": "9" * 30, "choice": "left"}, True)
    @example(surveys[0], {"position": CURRENT, "choice": "left", "client_timing": '{"input": "\\u0000"}'}, True)
    @example(surveys[1], {"position": CURRENT, "choice": "left",
                          "client_timing": json.dumps({"planned_ms": 250, "frame_ms": 16.7, "achieved_ms": 250,
                                                       "frames_planned": 15, "dropped_frames": "none"})}, True)
    def fuzz(survey, fields, wants_json):
        client = clients[survey.pk]
        if fields.get("position") == CURRENT:
            fields["position"] = current_position(client, survey)
        before = written()
        response = client.post(reverse("surveys:answer", kwargs={"slug": survey.slug}), fields,
                               headers={"Accept": "application/json"} if wants_json else {})
        assert_clear(response, before)

    fuzz()
    assert Response.objects.exists(), "the examples reached the valid answers too"


def test_any_device_check_is_answered_clearly_and_a_refusal_writes_nothing(surveys):
    clients = {survey.pk: started(survey) for survey in surveys}
    bodies = st.one_of(any_json_text(CHECK_KEYS).map(str.encode), st.binary(max_size=300))

    @FUZZ
    @given(st.sampled_from(surveys), bodies, st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]))
    @example(surveys[1], json.dumps({"frame_ms": 10**400, "frames": 10**400, "screen": [10**400, 1]}).encode(),
             "application/json")
    @example(surveys[1], json.dumps({"frame_ms": 16.7, "frame_sd_ms": 0.1, "frames": 120, "window": [1e308, 1e308],
                                     "screen": [1e308, 1e308], "dpr": 1e308, "stimulus_px": 1e308}).encode(),
             "application/json")
    def fuzz(survey, body, content_type):
        before = written()
        response = clients[survey.pk].post(reverse("surveys:check", kwargs={"slug": survey.slug}), body,
                                           content_type=content_type, headers={"Accept": "application/json"})
        assert_clear(response, before)

    fuzz()


crowd_params = st.dictionaries(
    st.sampled_from(["PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "workerId", "assignmentId", "hitId", "turkSubmitTo",
                     "lang", "next", "x"]),
    st.one_of(st.text(max_size=30), st.sampled_from(["ASSIGNMENT_ID_NOT_AVAILABLE", "https://www.mturk.com", "w1",
                                                     "A" * 101, "http://evil.example"])),
    max_size=5,
)


def test_any_welcome_link_and_consent_is_answered_clearly_and_a_refusal_writes_nothing(surveys):
    @FUZZ
    @given(st.sampled_from(surveys), crowd_params, st.sampled_from(["GET", "POST"]),
           st.dictionaries(st.sampled_from(["consent", "csrfmiddlewaretoken", "other"]),
                           st.one_of(st.just("yes"), st.text(max_size=10)), max_size=2),
           st.sampled_from([{}, {"Sec-Fetch-Dest": "iframe"}]))
    @example(surveys[0], {"workerId": "w1", "assignmentId": "a1", "hitId": "h1", "turkSubmitTo": "https://www.mturk.com"},
             "POST", {"consent": "yes"}, {})
    def fuzz(survey, params, method, data, headers):
        path = reverse("surveys:welcome", kwargs={"slug": survey.slug}) + "?" + urlencode(params)
        client = Client()
        before = written()
        response = client.get(path, headers=headers) if method == "GET" else client.post(path, data, headers=headers)
        assert_clear(response, before)

    fuzz()


def test_any_participant_url_is_answered_clearly(surveys):
    """Odd slugs, image ids and query strings, with and without a session: never a 5xx, never a write."""
    clients = [Client(), started(surveys[0])]
    pages = ["", "instructions/", "trial/", "trials/", "done/", "check/", "answer/"]

    @FUZZ
    @given(st.sampled_from(clients), st.one_of(st.just(surveys[0].slug), st.text(min_size=1, max_size=40)),
           st.sampled_from(pages), st.text(max_size=40), st.text(min_size=1, max_size=60))
    def fuzz(client, slug, page, query, public_id):
        survey_path, image_id = f"/s/{quote(slug, safe='')}/", quote(public_id, safe="")
        # The participant's image URL, and the researcher's, which a participant's session does not open either.
        paths = (f"{survey_path}{page}?{quote(query, safe='=&')}", f"{survey_path}img/{image_id}", f"/img/{image_id}")
        for path in paths:
            before = written()
            assert_clear(client.get(path), before)

    fuzz()
