"""Participants read their own current trial and nothing else; completion codes cannot be guessed.

Two people take the same survey in two browsers (two test clients, two sessions): each one's trials/,
trial page, check/ and done page answer from that session's participant alone, and no spec tells the
truth (expected answer, arm, pool, real or generated) of a test trial.
"""
import json
import math
from collections import Counter

import pytest
from django.test import Client
from django.urls import reverse
from scipy import stats

from surveys import services
from surveys.models import (COMPLETION_CODE_ALPHABET, COMPLETION_CODE_LENGTH, Participant, Response, Trial,
                            new_completion_code, new_token)
from surveys.participant_pages import SESSION_KEY
from surveys.protocol import preset_protocol
from tests.participant_images import participant_image_url

pytestmark = pytest.mark.django_db

JSON = {"Accept": "application/json"}
SPEC_KEYS = {"position", "stage", "block", "number", "of", "images", "exposure_ms", "adaptive", "label", "feedback",
             "countdown"}
TRIALS = 6


@pytest.fixture
def survey(make_pool):
    """Real or generated, with two labelled training examples before the six test trials."""
    real = make_pool("secret-real-photos", count=12, kind="real")
    fake = make_pool("secret-dcgan-pool", count=12, kind="generated")
    protocol = preset_protocol("simgan-vtt", training_examples=2)
    created = services.survey_create(name="secret survey name", pools=[real, fake], kind="real_fake",
                                     trials_per_participant=TRIALS, protocol=protocol)
    return services.survey_open(survey=created)


def url(name: str, survey) -> str:
    return reverse(f"surveys:{name}", kwargs={"slug": survey.slug})


def start(survey) -> tuple[Client, Participant]:
    """A new browser that consents: (its client, its participant)."""
    client = Client()
    before = set(Participant.objects.filter(survey=survey).values_list("pk", flat=True))
    assert client.post(url("welcome", survey), {"consent": "yes"}).status_code == 302
    return client, Participant.objects.filter(survey=survey).exclude(pk__in=before).get()


def answer_current(client, survey) -> dict:
    spec = client.get(url("trials", survey)).json()["trials"][0]
    choice = "seen" if spec["stage"] == "training" else "real"
    reply = client.post(url("answer", survey), {"position": spec["position"], "choice": choice}, headers=JSON)
    assert reply.status_code == 200, reply.content
    return reply.json()


def expected_images(participant: Participant, positions) -> list[list[str]]:
    """The image URLs of ``participant``'s own trials at ``positions``, read from the database."""
    rows = Trial.objects.filter(participant=participant, position__in=positions).order_by("position")
    return [[participant_image_url(participant.survey, image)
             for image in (trial.left_image, trial.right_image) if image is not None] for trial in rows]


# --- each session reads its own participant's trials -----------------------------------------------------


def test_trials_answers_each_browser_with_its_own_participants_current_trial(survey):
    first_client, first = start(survey)
    second_client, second = start(survey)
    for _ in range(3):
        answer_current(first_client, survey)
    mine, theirs = (client.get(url("trials", survey)).json()["trials"] for client in (second_client, first_client))
    assert [spec["position"] for spec in mine] == list(range(6)) and theirs[0]["position"] == 3
    assert [spec["images"] for spec in mine] == expected_images(second, range(6))
    assert [spec["images"] for spec in theirs] == expected_images(first, range(3, 3 + len(theirs)))
    assert [spec["images"] for spec in mine] != [spec["images"] for spec in theirs]


def test_the_trial_page_shows_this_browsers_current_trial(survey):
    first_client, first = start(survey)
    second_client, second = start(survey)
    answer_current(first_client, survey)
    page = second_client.get(url("trial", survey)).content.decode()
    assert all(image in page for image in expected_images(second, [0])[0])
    assert 'name="position" value="0"' in page  # the first participant is at position 1


def test_an_answer_from_one_browser_never_lands_on_another_participants_trial(survey):
    first_client, first = start(survey)
    second_client, second = start(survey)
    answer_current(first_client, survey)  # the first participant is now at position 1
    reply = second_client.post(url("answer", survey), {"position": 1, "choice": "seen"}, headers=JSON)
    assert reply.status_code == 409  # position 1 is not the second participant's current trial
    assert list(Response.objects.values_list("trial__participant", "trial__position")) == [(first.pk, 0)]


def test_a_browser_without_a_participant_reads_nothing(survey):
    start(survey)  # someone else is taking it
    stranger = Client()
    assert stranger.get(url("trials", survey)).status_code == 403
    assert stranger.post(url("check", survey), "{}", content_type="application/json").status_code == 403
    for name in ("trial", "done", "instructions"):
        response = stranger.get(url(name, survey))
        assert response.status_code == 302 and response["Location"] == url("welcome", survey)


def test_a_token_from_another_survey_reads_nothing_here(survey, make_pool):
    _client, elsewhere = start(services.survey_open(survey=services.survey_create(
        name="other", pools=[make_pool("other-a", count=4), make_pool("other-b", count=4)], trials_per_participant=2)))
    forged = Client()
    session = forged.session
    session[SESSION_KEY.format(slug=survey.slug)] = elsewhere.token  # a valid token, of another survey's participant
    session.save()
    assert forged.get(url("trials", survey)).status_code == 403
    assert forged.get(url("trial", survey))["Location"] == url("welcome", survey)


# --- no truth of a test trial reaches the browser before its answer -------------------------------------


def test_specs_tell_no_truth_of_test_trials(survey):
    client, participant = start(survey)
    seen = []
    for _ in range(3):  # the two training examples, then test trials
        seen += client.get(url("trials", survey)).json()["trials"]
        answer_current(client, survey)
    seen += client.get(url("trials", survey)).json()["trials"]
    assert {spec["stage"] for spec in seen} == {"training", "test"}
    for spec in seen:
        assert set(spec) == SPEC_KEYS
        # A training example is shown with its label (that is its point); a test trial never carries one.
        assert (spec["label"] is not None) == (spec["stage"] == "training")
    text = json.dumps(seen) + client.get(url("trial", survey)).content.decode()
    arms = list(survey.arms.values_list("label", flat=True))
    for secret in ["expected", "secret-real-photos", "secret-dcgan-pool", "secret survey name", *arms]:
        assert secret not in text
    assert not Trial.objects.filter(participant=participant, phase=Trial.Phase.MAIN, expected_choice="").exists()


def test_the_answer_reply_tells_the_truth_only_of_the_trial_just_answered_and_only_with_feedback(survey):
    client, _participant = start(survey)
    replies = [answer_current(client, survey) for _ in range(3)]
    assert all(reply["feedback"] is None for reply in replies)  # this survey gives no feedback
    for reply in replies:
        assert all(spec["label"] is None for spec in reply["trials"] if spec["stage"] == "test")


# --- the done page and its completion code ---------------------------------------------------------------


def finish(client, survey) -> None:
    while client.get(url("trials", survey)).json()["trials"]:
        answer_current(client, survey)


def test_the_done_page_shows_a_code_only_to_its_own_participant(survey):
    first_client, first = start(survey)
    second_client, _second = start(survey)
    finish(first_client, survey)
    first.refresh_from_db()
    assert first.is_complete and first.completion_code in first_client.get(url("done", survey)).content.decode()
    for other in (second_client, Client()):
        response = other.get(url("done", survey), follow=True)
        assert first.completion_code not in response.content.decode()
    assert second_client.get(url("done", survey))["Location"] == url("trial", survey)


def test_completion_codes_hold_at_least_64_bits_from_the_system_random_source():
    assert COMPLETION_CODE_LENGTH * math.log2(len(set(COMPLETION_CODE_ALPHABET))) >= 64
    codes = [new_completion_code() for _ in range(20_000)]
    assert len(set(codes)) == len(codes)
    assert all(len(code) == COMPLETION_CODE_LENGTH and set(code) <= set(COMPLETION_CODE_ALPHABET) for code in codes)
    # Every symbol equally likely at every place: a skewed or patterned generator (time-based, a counter, a
    # small seed) fails this at a p-value far below the threshold, while a fair one fails once in 10^9 runs.
    for place in range(COMPLETION_CODE_LENGTH):
        counts = Counter(code[place] for code in codes)
        observed = [counts[symbol] for symbol in COMPLETION_CODE_ALPHABET]
        assert stats.chisquare(observed).pvalue > 1e-9, place


def test_participant_tokens_hold_at_least_128_bits():
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000 and min(len(token) for token in tokens) * 6 >= 128  # urlsafe base64: 6 bits a char


def test_completion_codes_of_real_participants_are_distinct_and_full_length(survey):
    codes = [services.participant_start(survey=survey).completion_code for _ in range(50)]
    assert len(set(codes)) == 50 and {len(code) for code in codes} == {COMPLETION_CODE_LENGTH}
