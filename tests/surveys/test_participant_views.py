"""The participant flow through Django's test client: consent, trials, answers, done, and no leaks."""
import re

import pytest
from django.urls import reverse

from generation.models import PoolImage
from surveys import services
from surveys.models import Participant, Response

pytestmark = pytest.mark.django_db

SECRET_POOL_NAMES = ["zz-real-photos-secret", "zz-dcgan-epoch6000-secret"]


@pytest.fixture
def survey(make_pool):
    real = make_pool(SECRET_POOL_NAMES[0], kind="real")
    fake = make_pool(SECRET_POOL_NAMES[1], kind="generated")
    fake.model_family = "dcgan"
    fake.save()
    return services.survey_open(survey=services.survey_create(name="internal survey name", pools=[real, fake], trials_per_participant=4))


def url(name, survey):
    return reverse(f"surveys:{name}", kwargs={"slug": survey.slug})


def start(client, survey):
    response = client.post(url("welcome", survey), {"consent": "yes"})
    assert response.status_code == 302 and response["Location"] == url("instructions", survey)
    return Participant.objects.get(survey=survey)


def test_consent_is_required_before_anything_is_created(client, survey):
    page = client.get(url("welcome", survey))
    assert page.status_code == 200 and b'name="consent"' in page.content
    refused = client.post(url("welcome", survey), {})
    assert refused.status_code == 200 and b'role="alert"' in refused.content
    assert not Participant.objects.exists()


def test_whole_flow_records_each_answer_and_ends_with_the_code(client, survey):
    participant = start(client, survey)
    assert client.get(url("instructions", survey)).status_code == 200
    for position in range(4):
        page = client.get(url("trial", survey))
        assert page.status_code == 200
        html = page.content.decode()
        assert f"({position + 1}/4)" in html
        assert "Which image looks more realistic?" in html
        answered = client.post(url("answer", survey), {"position": position, "choice": "left", "reaction_time_ms": "640.5",
                                                       "client_timing": '{"input": "mouse"}'})
        assert answered.status_code == 302
    assert client.get(url("trial", survey))["Location"] == url("done", survey)
    done = client.get(url("done", survey))
    participant.refresh_from_db()
    assert participant.is_complete and participant.completion_code in done.content.decode()
    responses = Response.objects.filter(trial__participant=participant).order_by("trial__position")
    assert [r.choice for r in responses] == ["left"] * 4
    assert responses[0].reaction_time_ms == 640.5 and responses[0].client_timing == {"input": "mouse"}


def test_reload_resumes_at_the_current_trial(client, survey):
    start(client, survey)
    client.post(url("answer", survey), {"position": 0, "choice": "right"})
    for _ in range(2):
        assert "(2/4)" in client.get(url("trial", survey)).content.decode()
    # Coming back through the link also resumes instead of starting a second participant.
    assert client.get(url("welcome", survey))["Location"] == url("trial", survey)
    assert Participant.objects.count() == 1


def test_replayed_post_creates_no_second_response(client, survey):
    start(client, survey)
    for _ in range(3):
        client.post(url("answer", survey), {"position": 0, "choice": "left"})
    assert Response.objects.count() == 1


def test_changed_answer_to_an_answered_trial_is_refused(client, survey):
    start(client, survey)
    client.post(url("answer", survey), {"position": 0, "choice": "left"})
    refused = client.post(url("answer", survey), {"position": 0, "choice": "right"}, headers={"Accept": "application/json"})
    assert refused.status_code == 409 and refused.json()["recorded"] is False
    assert Response.objects.get().choice == "left"


def test_answer_to_a_later_trial_is_refused(client, survey):
    start(client, survey)
    refused = client.post(url("answer", survey), {"position": 2, "choice": "left"}, headers={"Accept": "application/json"})
    assert refused.status_code == 409
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    "data",
    [{"position": "x", "choice": "left"}, {"position": 0, "choice": "up"}, {"position": 0, "choice": "left", "reaction_time_ms": "soon"},
     {"position": 0, "choice": "left", "client_timing": "{not json"}, {}],
)
def test_malformed_answer_gets_400_and_writes_nothing(client, survey, data):
    start(client, survey)
    refused = client.post(url("answer", survey), data, headers={"Accept": "application/json"})
    assert refused.status_code == 400 and refused.json()["error"]
    assert not Response.objects.exists()


def test_answer_without_a_session_is_refused(client, survey):
    refused = client.post(url("answer", survey), {"position": 0, "choice": "left"}, headers={"Accept": "application/json"})
    assert refused.status_code == 403
    assert not Response.objects.exists()


def test_answer_needs_csrf_token(survey):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(url("welcome", survey), {"consent": "yes"}).status_code == 403


def test_closed_survey_takes_no_new_participants(client, survey):
    services.survey_close(survey=survey)
    page = client.get(url("welcome", survey))
    assert "closed" in page.content.decode()
    client.post(url("welcome", survey), {"consent": "yes"})
    assert not Participant.objects.exists()


def test_japanese_pages(client, survey):
    page = client.get(url("welcome", survey), headers={"Accept-Language": "ja"})
    assert 'lang="ja"' in page.content.decode()
    start(client, survey)
    trial = client.get(url("trial", survey), headers={"Accept-Language": "ja"}).content.decode()
    assert "どちらの画像がより本物らしく見えますか？" in trial


def _instructions(client, survey):
    services.survey_open(survey=survey)
    start(client, survey)
    page = client.get(url("instructions", survey))
    assert page.status_code == 200
    return " ".join(page.content.decode().split())


def test_instructions_of_a_preference_questionnaire(client, make_pool):
    survey = services.survey_create(name="q", pools=[make_pool("gan-a", kind="generated"), make_pool("gan-b", kind="generated")],
                                    preset="questionnaire", trials_per_participant=5)
    text = _instructions(client, survey)
    assert "You will see 5 pairs of images." in text
    assert "<strong>Click or tap the image that looks best generated.</strong>" in text
    assert "There are no right or wrong answers" in text and "← and → keys" in text
    assert "briefly" not in text and "practice" not in text


def test_instructions_of_a_timed_pairwise_survey_explain_the_mask(client, make_pool):
    survey = services.survey_create(name="t", pools=[make_pool("photos", kind="real"), make_pool("gan", kind="generated")],
                                    preset="pix2pix", trials_per_participant=4, protocol={"exposures_ms": [1000],
                                    "pairs": "vs_real", "choose": "fake", "practice_trials": 2})
    text = _instructions(client, survey)
    assert "The images appear only briefly, then a pattern covers them. Answer after they are covered" in text
    assert "there are 2 practice trials; after each one you are told whether your answer was right" in text
    assert "<strong>Which image is fake?</strong>" in text
    assert "There are no right or wrong answers" not in text  # a real image is in every pair


def test_instructions_of_a_real_fake_survey_announce_each_phase(client, make_pool):
    survey = services.survey_create(name="rf", pools=[make_pool("photos", kind="real"), make_pool("gan", kind="generated")],
                                    preset="simgan-vtt", trials_per_participant=4,
                                    protocol={"training_examples": 2, "qualification_trials": 2})
    text = _instructions(client, survey)
    assert "First you will see 2 labelled examples" in text and "press Continue" in text
    assert "Next come 2 qualification questions" in text
    assert "You will see 4 images, one at a time." in text and "<strong>Is this image real or generated?</strong>" in text
    assert "the ← key (real) and the → key (generated)" in text and "clicking or tapping Real or Generated" in text
    assert "pairs of images" not in text


def test_instructions_of_an_adaptive_survey_mention_blocks_countdown_and_feedback(client, make_pool):
    survey = services.survey_create(name="ht", pools=[make_pool("photos", kind="real"), make_pool("gan", kind="generated")],
                                    preset="hype-time", trials_per_participant=6)
    text = _instructions(client, survey)
    assert "They come in 3 parts, each starting after a 3-2-1 countdown." in text
    assert "Each image appears only briefly, then a pattern covers it." in text
    assert "How long the images stay on the screen changes as you go." in text
    assert "After each answer you are told whether it was right." in text


def test_the_researchers_instructions_replace_the_built_in_ones(client, make_pool):
    survey = services.survey_create(name="own", pools=[make_pool("a"), make_pool("b")], trials_per_participant=2,
                                    instructions_en="Look closely at the hair.")
    text = _instructions(client, survey)
    assert "Look closely at the hair." in text and "built-in-instructions" not in text


def test_instructions_of_a_finished_participant_lead_to_the_end(client, survey):
    participant = start(client, survey)
    for position in range(4):
        services.response_record(participant=participant, position=position, choice="left")
    assert client.get(url("instructions", survey))["Location"] == url("done", survey)


def _participant_pages(client, survey):
    pages = [client.get(url("welcome", survey))]
    start(client, survey)
    pages.append(client.get(url("instructions", survey)))
    for position in range(4):
        pages.append(client.get(url("trial", survey)))
        client.post(url("answer", survey), {"position": position, "choice": "right"})
    pages.append(client.get(url("done", survey)))
    return pages


def test_no_pool_name_kind_model_sha_or_file_name_reaches_participant_pages(client, survey):
    forbidden = set(SECRET_POOL_NAMES) | {"internal survey name", "dcgan"}
    for image in PoolImage.objects.all():
        forbidden |= {image.sha256, image.source_name, image.file.name}
    kind_words = re.compile(r"\b(real|generated|imported|fake)\b", re.IGNORECASE)
    for page in _participant_pages(client, survey):
        html = page.content.decode()
        for secret in forbidden:
            assert secret not in html
        header_text = " ".join(f"{k}: {v}" for k, v in page.items())
        for secret in forbidden:
            assert secret not in header_text
        # Kinds must not hide in URLs or attributes (the question's "realistic" is fine).
        for attribute in re.findall(r'\s[\w-]+="([^"]*)"', html):
            assert not kind_words.search(attribute), attribute


def test_trial_images_are_served_only_through_opaque_ids(client, survey):
    start(client, survey)
    html = client.get(url("trial", survey)).content.decode()
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == 2
    for source in sources:
        assert re.fullmatch(rf"/s/{survey.slug}/img/[A-Za-z0-9_-]{{22}}", source), source
        assert client.get(source)["Content-Type"] == "image/png"
