"""Participants load only the images of their own trials near the current one; researchers only their pools'.

A participant's browser may load the images of the trial just answered (its feedback may still be on screen),
of the current one and of the specs.LOOKAHEAD the runner preloads, at surveys:image; nothing else: not another
participant's, not a later trial's, not an image in no trial, not without a session. Each refusal is the same
404 an unknown id gets, decided before the ETag is compared, so that neither a body nor a 304 tells an image that
exists from one that does not. The researcher's generation:image serves only images of pools they may see.
"""
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generation.models import PoolImage
from surveys import selectors, services, specs
from surveys.models import Participant, Trial
from tests.participant_images import participant_image_url, spec_image_urls, started_participant

pytestmark = pytest.mark.django_db

TRIALS = specs.LOOKAHEAD + 4  # enough trials that some lie beyond the window at first
JSON = {"Accept": "application/json"}


@pytest.fixture
def survey(make_pool, alice):
    """Alice's pairwise survey: each trial shows two images, none shown twice to one participant."""
    first = make_pool("alice-first", count=TRIALS + 2, created_by=alice)
    second = make_pool("alice-second", count=TRIALS + 2, created_by=alice)
    created = services.survey_create(name="alice survey", pools=[first, second], trials_per_participant=TRIALS,
                                      created_by=alice)
    return services.survey_open(survey=created)


def trial_images(participant, position: int) -> list[PoolImage]:
    trial = Trial.objects.select_related("left_image", "right_image").get(participant=participant, position=position)
    return [image for image in (trial.left_image, trial.right_image) if image is not None]


def window_urls(survey, participant, positions) -> list[str]:
    return [participant_image_url(survey, image)
            for position in positions for image in trial_images(participant, position)]


def answer_current(client, survey) -> None:
    spec = client.get(reverse("surveys:trials", kwargs={"slug": survey.slug})).json()["trials"][0]
    reply = client.post(reverse("surveys:answer", kwargs={"slug": survey.slug}),
                        {"position": spec["position"], "choice": "left"}, headers=JSON)
    assert reply.status_code == 200, reply.content


def unknown_url(survey) -> str:
    return reverse("surveys:image", kwargs={"slug": survey.slug, "public_id": "AAAAAAAAAAAAAAAAAAAAAA"})


# --- participants --------------------------------------------------------------------------------------------


def test_a_participant_loads_the_images_of_the_current_trial_and_the_preloaded_ones(survey):
    client, participant = started_participant(survey)
    urls = spec_image_urls(client, survey)
    assert urls == window_urls(survey, participant, range(specs.LOOKAHEAD + 1))
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/png", url


def test_an_image_of_a_trial_beyond_the_window_is_404_until_the_window_reaches_it(survey):
    client, participant = started_participant(survey)
    beyond = window_urls(survey, participant, [specs.LOOKAHEAD + 1])
    assert [client.get(url).status_code for url in beyond] == [404, 404]
    answer_current(client, survey)  # the window moves on by one trial
    assert [client.get(url).status_code for url in beyond] == [200, 200]


def test_the_trial_just_answered_stays_loadable_and_the_one_before_it_does_not(survey):
    client, participant = started_participant(survey)
    answer_current(client, survey)
    answer_current(client, survey)  # now at position 2: 1 was just answered, 0 before it
    assert [client.get(url).status_code for url in window_urls(survey, participant, [1])] == [200, 200]
    assert [client.get(url).status_code for url in window_urls(survey, participant, [0])] == [404, 404]


def test_another_participants_image_is_404_in_this_browser(survey):
    mine, me = started_participant(survey)
    theirs, them = started_participant(survey)
    my_window = set(window_urls(survey, me, range(specs.LOOKAHEAD + 1)))
    their_only = [url for url in window_urls(survey, them, range(specs.LOOKAHEAD + 1)) if url not in my_window]
    assert their_only  # the two draw their images apart; some of theirs are not among mine
    for url in their_only:
        assert theirs.get(url).status_code == 200
        assert mine.get(url).status_code == 404


def test_an_image_in_no_trial_is_404(survey, make_pool):
    client, participant = started_participant(survey)
    outside = make_pool("in-no-survey", count=1).images.get()
    shown = Trial.objects.filter(participant__survey=survey).values_list("left_image", "right_image")
    unshown = PoolImage.objects.filter(pool__arms__survey=survey).exclude(pk__in=[pk for pair in shown for pk in pair])
    assert unshown.exists()  # the pools hold two images more than the trials use
    for image in (outside, unshown.first()):
        assert client.get(participant_image_url(survey, image)).status_code == 404


def test_without_a_session_every_image_is_404(survey):
    client, participant = started_participant(survey)
    url = window_urls(survey, participant, [0])[0]
    assert client.get(url).status_code == 200
    assert Client().get(url).status_code == 404


def test_a_token_of_another_survey_does_not_open_this_surveys_images(survey, make_pool):
    other = services.survey_open(survey=services.survey_create(
        name="other", pools=[make_pool("other-a", count=4), make_pool("other-b", count=4)], trials_per_participant=2))
    client, participant = started_participant(other)
    image = trial_images(participant, 0)[0]
    assert client.get(participant_image_url(other, image)).status_code == 200
    assert client.get(participant_image_url(survey, image)).status_code == 404  # the URL of a survey not theirs


def test_every_refusal_reads_as_an_unknown_id(survey):
    mine, me = started_participant(survey)
    theirs, them = started_participant(survey)
    my_window = set(window_urls(survey, me, range(specs.LOOKAHEAD + 1)))
    not_mine = next(url for url in window_urls(survey, them, range(specs.LOOKAHEAD + 1)) if url not in my_window)
    beyond = window_urls(survey, me, [specs.LOOKAHEAD + 1])[0]
    unknown = mine.get(unknown_url(survey))
    assert unknown.status_code == 404
    for refused in (mine.get(not_mine), mine.get(beyond), Client().get(not_mine)):
        assert refused.status_code == 404
        assert refused.content == unknown.content
        assert dict(refused.items()) == dict(unknown.items())


def test_a_conditional_get_for_a_forbidden_image_is_404_not_304(survey):
    mine, me = started_participant(survey)
    theirs, them = started_participant(survey)
    my_window = set(window_urls(survey, me, range(specs.LOOKAHEAD + 1)))
    not_mine = next(url for url in window_urls(survey, them, range(specs.LOOKAHEAD + 1)) if url not in my_window)
    etag = theirs.get(not_mine)["ETag"]
    assert theirs.get(not_mine, HTTP_IF_NONE_MATCH=etag).status_code == 304  # the right ETag for its owner
    for stranger in (mine, Client()):
        response = stranger.get(not_mine, HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 404 and not response.has_header("ETag")


def test_the_access_check_is_one_query(survey, django_assert_num_queries):
    _client, participant = started_participant(survey)
    image = trial_images(participant, 0)[0]
    with django_assert_num_queries(1):
        found = selectors.participant_trial_image(participant=participant, public_id=image.public_id,
                                                  ahead=specs.LOOKAHEAD)
    assert found == image
    with django_assert_num_queries(1):
        assert selectors.participant_trial_image(participant=participant, public_id="nope",
                                                 ahead=specs.LOOKAHEAD) is None


# --- researchers -----------------------------------------------------------------------------------------------


def researcher_image_url(image: PoolImage) -> str:
    return reverse("generation:image", kwargs={"public_id": image.public_id})


def test_a_researcher_loads_their_own_pools_images_and_a_superuser_everyones(survey, alice_client, superuser_client):
    image = PoolImage.objects.filter(pool__name="alice-first").first()
    for client in (alice_client, superuser_client):
        response = client.get(researcher_image_url(image))
        assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_another_researchers_pool_image_is_404_like_an_unknown_id(survey, bob_client, alice_client):
    image = PoolImage.objects.filter(pool__name="alice-first").first()
    etag = alice_client.get(researcher_image_url(image))["ETag"]
    unknown = bob_client.get(reverse("generation:image", kwargs={"public_id": "AAAAAAAAAAAAAAAAAAAAAA"}))
    for refused in (bob_client.get(researcher_image_url(image)),
                    bob_client.get(researcher_image_url(image), HTTP_IF_NONE_MATCH=etag)):
        assert refused.status_code == 404 and refused.content == unknown.content
        assert dict(refused.items()) == dict(unknown.items())


def test_a_pool_without_an_owner_is_for_superusers_only(make_pool, bob_client, superuser_client):
    image = make_pool("ownerless", count=1).images.get()
    assert bob_client.get(researcher_image_url(image)).status_code == 404
    assert superuser_client.get(researcher_image_url(image)).status_code == 200


def test_anonymous_visitors_and_participants_are_sent_to_the_login(survey):
    client, participant = started_participant(survey)
    image = trial_images(participant, 0)[0]
    assert client.get(participant_image_url(survey, image)).status_code == 200
    for visitor in (client, Client()):  # a participant may load it only through their survey's URL
        response = visitor.get(researcher_image_url(image))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_participant_screened_out_loads_no_more_images(survey):
    client, participant = started_participant(survey)
    urls = spec_image_urls(client, survey)
    assert client.get(urls[0]).status_code == 200
    Participant.objects.filter(pk=participant.pk).update(screened_out_at=timezone.now())
    assert {client.get(url).status_code for url in urls} == {404}
