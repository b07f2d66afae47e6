"""Researchers see and act only on what they created; anonymous visitors get nothing under /r/ but the login.

Each forbidden access is tried for real: Bob, logged in, asks for (or posts to) every URL of Alice's
survey, pools, import and run, and gets the 404 a missing object gets (never 403, which would confirm it
exists); the same URL works for Alice, so the 404 is the ownership check and not a broken URL.
"""
import pytest
from django.urls import reverse

from generation.models import ImagePool, PoolImport, TrainingRun
from surveys.models import Survey
from tests.security.conftest import PASSWORD, Owned, fill_pattern, finished_run, site_url_patterns

pytestmark = pytest.mark.django_db

EXPORT_FORMATS = ("csv", "xlsx", "md", "tex", "raw", "manifest", "charts")

# Every URL that names one of Alice's objects: (URL name, whose pk, extra URL kwargs, method, posted data).
OWNED_URLS = [
    ("surveys:survey_detail", "survey", {}, "get", {}),
    ("surveys:survey_status", "survey", {}, "post", {"action": "close"}),
    ("surveys:survey_prolific", "survey", {}, "post", {"prolific_completion_code": "STOLEN1"}),
    ("analysis:survey_results", "survey", {}, "get", {}),
    *[("analysis:survey_export", "survey", {"fmt": fmt}, "get", {}) for fmt in EXPORT_FORMATS],
    ("analysis:survey_chart", "survey", {"name": "<chart>", "fmt": "svg"}, "get", {}),
    ("analysis:survey_live", "survey", {}, "get", {}),
    ("analysis:survey_live_json", "survey", {}, "get", {}),
    ("generation:pool_detail", "real", {}, "get", {}),
    ("generation:pool_obviously_bad", "real", {}, "post", {"obviously_bad": "on"}),
    ("generation:import_status", "pool_import", {}, "get", {}),
    ("generation:run_detail", "run", {}, "get", {}),
    ("generation:run_status", "run", {}, "get", {}),
    ("generation:run_sample", "run", {}, "get", {}),
    ("generation:run_cancel", "run", {}, "post", {}),
    ("generation:run_resume", "run", {}, "post", {"iterations": "8"}),
    ("generation:run_generate", "run", {}, "post", {"images": 2, "which": "latest", "seed": 0}),
]
URL_IDS = [f"{name}{'.' + extra['fmt'] if 'fmt' in extra else ''}-{method}" for name, _, extra, method, _ in OWNED_URLS]
GET_URLS = [entry for entry in OWNED_URLS if entry[3] == "get"]


def owned_url(owned: Owned, name: str, target: str, extra: dict) -> str:
    kwargs = {key: owned.chart if value == "<chart>" else value for key, value in extra.items()}
    return reverse(name, kwargs={"pk": getattr(owned, target).pk, **kwargs})


def request(client, method: str, url: str, data: dict):
    return client.post(url, data) if method == "post" else client.get(url)


# --- Bob cannot see or act on Alice's objects -----------------------------------------------------------


@pytest.mark.parametrize("name, target, extra, method, data", OWNED_URLS, ids=URL_IDS)
def test_another_researchers_object_is_404(owned, bob_client, name, target, extra, method, data):
    assert request(bob_client, method, owned_url(owned, name, target, extra), data).status_code == 404


@pytest.mark.parametrize("name, target, extra, method, data", GET_URLS,
                         ids=[f"{name}-{extra.get('fmt', '')}" for name, _, extra, _, _ in GET_URLS])
def test_the_owner_and_a_superuser_reach_it(owned, alice_client, superuser_client, name, target, extra, method, data):
    # Read-only URLs only: the posts would change what the other tests look at. Charts answer 503 here
    # (no Chromium), which still says the survey was found.
    url = owned_url(owned, name, target, extra)
    assert alice_client.get(url).status_code in (200, 503)
    assert superuser_client.get(url).status_code in (200, 503)


def test_another_researchers_posts_change_nothing(owned, bob_client):
    for name, target, extra, method, data in OWNED_URLS:
        if method == "post":
            request(bob_client, method, owned_url(owned, name, target, extra), data)
    survey, pool, run = (Survey.objects.get(pk=owned.survey.pk), ImagePool.objects.get(pk=owned.real.pk),
                         TrainingRun.objects.get(pk=owned.run.pk))
    assert survey.status == Survey.Status.OPEN and survey.prolific_completion_code == ""
    assert not pool.obviously_bad
    assert (run.status, run.iterations, run.cancel_requested) == (TrainingRun.Status.DONE, 4, False)
    assert PoolImport.objects.count() == 1  # no pool sampled from Alice's run


def test_the_owner_may_act_where_another_researcher_may_not(owned, alice_client):
    alice_client.post(reverse("surveys:survey_status", kwargs={"pk": owned.survey.pk}), {"action": "close"})
    alice_client.post(reverse("generation:pool_obviously_bad", kwargs={"pk": owned.real.pk}), {"obviously_bad": "on"})
    assert Survey.objects.get(pk=owned.survey.pk).status == Survey.Status.CLOSED
    assert ImagePool.objects.get(pk=owned.real.pk).obviously_bad


def test_a_missing_object_and_another_researchers_look_the_same(owned, bob_client):
    """Same status and same body: nothing tells Bob that Alice's survey exists."""
    theirs = bob_client.get(reverse("surveys:survey_detail", kwargs={"pk": owned.survey.pk}))
    missing = bob_client.get(reverse("surveys:survey_detail", kwargs={"pk": owned.survey.pk + 1000}))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.content == missing.content


# --- lists -------------------------------------------------------------------------------------------------


def list_pages(client) -> str:
    pages = ("surveys:dashboard", "generation:pool_list", "generation:run_list")
    return "\n".join(client.get(reverse(name)).content.decode() for name in pages)


def test_lists_show_only_ones_own(owned, bob, bob_client, make_pool):
    mine = make_pool("bob-pool", count=2, created_by=bob)
    html = list_pages(bob_client)
    assert mine.name in html
    for secret in ("alice survey", "alice-real", "alice-fake", owned.run.name):
        assert secret not in html
    assert "Your surveys only" in html and "Your pools only" in html and "Your training runs only" in html
    assert "1 pool<" in bob_client.get(reverse("surveys:dashboard")).content.decode()  # Bob's pool, not Alice's two


def test_lists_show_the_owner_everything_of_theirs(owned, alice_client):
    html = list_pages(alice_client)
    for name in ("alice survey", "alice-real", "alice-fake", owned.run.name):
        assert name in html


def test_a_superuser_sees_everyones_and_the_header_says_so(owned, superuser_client, make_pool):
    unowned = make_pool("nobodys-pool", count=1)  # made before owners were recorded, or by a command
    html = list_pages(superuser_client)
    for name in ("alice survey", "alice-real", owned.run.name, unowned.name):
        assert name in html
    assert "Everyone's surveys: you are a superuser" in html and "Everyone's pools" in html
    assert "<th>Owner</th>" in html and "<td>alice</td>" in html


def test_rows_without_an_owner_are_for_superusers_only(bob_client, superuser_client, make_pool):
    unowned = make_pool("nobodys-pool", count=1)
    url = reverse("generation:pool_detail", kwargs={"pk": unowned.pk})
    assert bob_client.get(url).status_code == 404
    assert superuser_client.get(url).status_code == 200


def test_the_dashboard_lists_only_ones_own_imports(owned, bob, bob_client):
    PoolImport.objects.create(pool_name="bob-upload", created_by=bob)
    html = bob_client.get(reverse("surveys:dashboard")).content.decode()
    assert "bob-upload" in html and reverse("generation:import_status", kwargs={"pk": owned.pool_import.pk}) not in html


# --- building on another's objects ------------------------------------------------------------------------


def test_the_survey_form_offers_only_ones_own_pools_and_refuses_anothers(owned, bob, bob_client, make_pool):
    mine = make_pool("bob-a", created_by=bob)
    form = bob_client.get(reverse("surveys:survey_create")).content.decode()
    assert "bob-a" in form and "alice-real" not in form and "alice-fake" not in form
    response = bob_client.post(reverse("surveys:survey_create"), {
        "preset": "questionnaire", "name": "borrowed", "kind": "pairwise", "trials_per_participant": 4,
        "pools": [mine.pk, owned.fake.pk], "question_en": "q", "question_ja": "q", "mask_count": 0, "countdown_s": 0,
        "pairs": "all", "choose": "real", "real_fraction": 0.5, "blocks": 1, "training_examples": 0,
        "qualification_trials": 0, "qualification_min_accuracy": 0.5, "practice_trials": 0, "attention_checks": 0,
        "attention_source": "pool", "max_attention_failures": 0,
    })
    assert response.status_code == 200
    assert f"Select a valid choice. {owned.fake.pk} is not one of the available choices." in response.content.decode()
    assert not Survey.objects.filter(name="borrowed").exists()  # Alice's pool refused as if it did not exist


def test_the_generate_form_refuses_another_researchers_srcnn_run(owned, bob, bob_client, tmp_path):
    mine = finished_run(tmp_path / "bob-run", created_by=bob)
    TrainingRun.objects.filter(pk=owned.run.pk).update(family="srcnn")
    page = bob_client.get(reverse("generation:run_detail", kwargs={"pk": mine.pk})).content.decode()
    assert owned.run.name not in page
    response = bob_client.post(reverse("generation:run_generate", kwargs={"pk": mine.pk}),
                               {"images": 2, "which": "latest", "seed": 0, "srcnn_run": owned.run.pk})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not PoolImport.objects.filter(created_by=bob).exists()


def test_the_matched_budget_form_offers_only_ones_own_runs(owned, bob, bob_client, tmp_path):
    mine = finished_run(tmp_path / "bob-run", created_by=bob)
    page = bob_client.get(reverse("generation:matched_budget")).content.decode()
    assert mine.name in page and owned.run.name not in page
    response = bob_client.post(reverse("generation:matched_budget"),
                               {"by": "iterations", "images": 2, "seed": 0, "run_0": mine.pk, "run_1": owned.run.pk})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not PoolImport.objects.filter(created_by=bob).exists()


# --- anonymous visitors ------------------------------------------------------------------------------------


def researcher_urls(owned: Owned) -> list[str]:
    """Every URL of the site under /r/, its placeholders filled with Alice's objects."""
    values = {"pk": str(owned.survey.pk), "fmt": "csv", "name": owned.chart}
    urls = [fill_pattern(pattern, values) for pattern, _view in site_url_patterns() if pattern.startswith("/r/")]
    assert len(urls) >= 25, urls  # the walk found the researcher pages
    return urls


def test_anonymous_visitors_are_sent_to_the_login_from_every_researcher_url(owned, client):
    login = reverse("login")
    for url in researcher_urls(owned):
        for response in (client.get(url), client.post(url, {"action": "close"})):
            assert response.status_code == 302 and response["Location"].startswith(login), url
    assert Survey.objects.get(pk=owned.survey.pk).status == Survey.Status.OPEN


def test_logging_in_as_another_researcher_does_not_reach_alices_survey(owned, bob, client):
    url = reverse("surveys:survey_detail", kwargs={"pk": owned.survey.pk})
    response = client.post(f"{reverse('login')}?next={url}", {"username": "bob", "password": PASSWORD}, follow=True)
    assert response.status_code == 404
