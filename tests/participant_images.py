"""Fetching images the way participants do: through a started participant's session, at surveys:image URLs."""
from django.test import Client
from django.urls import reverse

from generation.models import PoolImage
from surveys.models import Participant, Survey


def started_participant(survey: Survey, **client_options) -> tuple[Client, Participant]:
    """A new browser that consents to ``survey``: (its client, its participant)."""
    client = Client(**client_options)
    before = set(Participant.objects.filter(survey=survey).values_list("pk", flat=True))
    response = client.post(reverse("surveys:welcome", kwargs={"slug": survey.slug}), {"consent": "yes"})
    assert response.status_code == 302, response.content
    return client, Participant.objects.filter(survey=survey).exclude(pk__in=before).get()


def spec_image_urls(client: Client, survey: Survey) -> list[str]:
    """The image URLs of the specs trials/ gives this browser: its current trial's and the preloaded ones'."""
    trials = client.get(reverse("surveys:trials", kwargs={"slug": survey.slug})).json()["trials"]
    return [url for spec in trials for url in spec["images"]]


def participant_image_url(survey: Survey, image: PoolImage) -> str:
    return reverse("surveys:image", kwargs={"slug": survey.slug, "public_id": image.public_id})


def every_image_through_participants(survey: Survey, *, most: int = 40) -> dict[str, tuple[Client, str]]:
    """For each image of ``survey``'s pools, by public id: a participant's browser that may load it, and its URL.

    New participants start until every image has turned up in one of their first specs (each shows a few).
    """
    wanted = set(PoolImage.objects.filter(pool__arms__survey=survey).values_list("public_id", flat=True))
    found: dict[str, tuple[Client, str]] = {}
    for _ in range(most):
        client, _participant = started_participant(survey)
        for url in spec_image_urls(client, survey):
            found.setdefault(url.rsplit("/", 1)[1], (client, url))
        if wanted <= set(found):
            return {public_id: found[public_id] for public_id in sorted(wanted)}
    raise AssertionError(f"{most} participants never saw {len(wanted - set(found))} of the survey's images")
