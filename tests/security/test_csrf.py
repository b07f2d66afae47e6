"""CSRF protection on every POST of the site: the URLconf is walked, not listed by hand, so a new URL is covered
the day it is added."""
import importlib
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import resolve, reverse

from surveys import services
from surveys.models import Response, Survey
from surveys.participant_pages import SESSION_KEY
from tests.security.conftest import Owned, fill_pattern, logged_in, site_url_patterns

pytestmark = pytest.mark.django_db

SITE_PACKAGES = ("evalsite", "generation", "surveys", "analysis")


def strict_client(user=None) -> Client:
    """A client that checks CSRF as a browser's requests are checked, holding the CSRF cookie (as a browser
    does once it has seen any of our forms), so that a refusal is for the missing token, not the cookie."""
    client = logged_in(user, enforce_csrf_checks=True) if user else Client(enforce_csrf_checks=True)
    client.get(reverse("login"))
    assert settings.CSRF_COOKIE_NAME in client.cookies
    return client


def with_participant(client: Client, owned: Owned) -> Client:
    participant = services.participant_start(survey=owned.survey)
    session = client.session
    session[SESSION_KEY.format(slug=owned.survey.slug)] = participant.token
    session.save()
    return client


def every_url(owned: Owned) -> list[str]:
    values = {
        "pk": str(owned.survey.pk), "slug": owned.survey.slug, "fmt": "csv", "name": owned.chart,
        "public_id": owned.real.images.first().public_id, "app_label": "surveys", "url": "surveys/",
        "object_id": str(owned.survey.pk), "content_type_id": "1", "id": "1", "uidb64": "MQ", "token": "x-y",
    }
    return [fill_pattern(pattern, values) for pattern, _view in site_url_patterns()]


def test_every_post_without_a_token_is_refused_with_403(owned, superuser):
    """As a logged-in superuser holding a participant session: the one client every view would act for."""
    client = with_participant(strict_client(superuser), owned)
    urls, answers = every_url(owned), Response.objects.count()
    assert len(urls) > 60, urls  # the walk found the site, the admin and the auth pages
    data = {"action": "close", "choice": "left", "position": "0"}
    refused = {url: client.post(url, data).status_code for url in urls}
    assert refused == {url: 403 for url in urls}
    assert Response.objects.count() == answers and Survey.objects.get(pk=owned.survey.pk).status == Survey.Status.OPEN


def test_the_same_posts_with_the_token_get_through_the_check(owned, superuser):
    """The control: with the token, the views themselves answer (so the 403s above were CSRF's)."""
    client = with_participant(strict_client(superuser), owned)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    status = reverse("surveys:survey_status", kwargs={"pk": owned.survey.pk})
    assert client.post(status, {"action": "close"}, HTTP_X_CSRFTOKEN=token).status_code == 302
    answer = reverse("surveys:answer", kwargs={"slug": owned.survey.slug})
    assert client.post(answer, {"position": "0", "choice": "left"}, HTTP_X_CSRFTOKEN=token).status_code in (302, 409)


def test_an_anonymous_participants_answer_without_a_token_is_refused(owned):
    client = with_participant(strict_client(), owned)
    for name in ("answer", "check"):
        assert client.post(reverse(f"surveys:{name}", kwargs={"slug": owned.survey.slug}), {}).status_code == 403
    welcome = reverse("surveys:welcome", kwargs={"slug": owned.survey.slug})
    assert Client(enforce_csrf_checks=True).post(welcome, {"consent": "yes"}).status_code == 403


def test_no_view_of_the_site_is_csrf_exempt(owned):
    exempt = [url for url in every_url(owned) if getattr(resolve(url.split("?")[0]).func, "csrf_exempt", False)]
    assert exempt == []


def test_no_module_of_the_site_uses_csrf_exempt():
    """The source too: a view wrapped elsewhere (a decorator of ours) would not show in the URLconf walk."""
    offenders = []
    for package in SITE_PACKAGES:
        root = Path(importlib.import_module(package).__file__).parent
        offenders += [str(path) for path in root.rglob("*.py") if "csrf_exempt" in path.read_text(encoding="utf-8")]
    assert offenders == []
