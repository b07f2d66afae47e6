import pytest
from django.urls import reverse

from surveys.models import Survey

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name, kwargs", [("dashboard", {}), ("survey_create", {}), ("survey_detail", {"pk": 1})])
def test_researcher_pages_need_login(client, name, kwargs):
    response = client.get(reverse(f"surveys:{name}", kwargs=kwargs))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_status_change_needs_login(client, make_pool):
    from surveys import services

    survey = services.survey_create(name="s", pools=[make_pool("a"), make_pool("b")])
    client.post(reverse("surveys:survey_status", kwargs={"pk": survey.pk}), {"action": "open"})
    assert Survey.objects.get().status == Survey.Status.DRAFT


def test_create_open_and_close_a_survey(researcher_client, make_pool):
    pools = [make_pool("alpha"), make_pool("beta")]
    form = researcher_client.get(reverse("surveys:survey_create")).content.decode()
    assert "alpha (imported, 6 images)" in form
    response = researcher_client.post(reverse("surveys:survey_create"), {
        "name": "my study", "pools": [p.pk for p in pools], "trials_per_participant": 10,
        "question_en": "Which is sharper?", "question_ja": "どちらが鮮明ですか？", "open_now": "on",
    })
    survey = Survey.objects.get(name="my study")
    assert response["Location"] == reverse("surveys:survey_detail", kwargs={"pk": survey.pk})
    assert survey.status == Survey.Status.OPEN and survey.trials_per_participant == 10
    assert [arm.label for arm in survey.arms.all()] == ["alpha", "beta"]
    detail = researcher_client.get(response["Location"]).content.decode()
    assert f"/s/{survey.slug}/" in detail
    researcher_client.post(reverse("surveys:survey_status", kwargs={"pk": survey.pk}), {"action": "close"})
    assert Survey.objects.get().status == Survey.Status.CLOSED


def test_a_survey_of_one_pool_is_refused_with_a_message(researcher_client, make_pool):
    pool = make_pool("alpha")
    response = researcher_client.post(reverse("surveys:survey_create"), {
        "name": "lonely", "pools": [pool.pk], "trials_per_participant": 8,
        "question_en": "q", "question_ja": "q",
    })
    assert response.status_code == 200 and "Choose at least two pools." in response.content.decode()
    assert not Survey.objects.exists()


def test_arms_of_different_image_sizes_are_flagged(researcher_client, make_pool, tmp_path):
    from generation.services import pool_import
    from tests.images import write_images

    small = make_pool("small")  # 16×16
    write_images(tmp_path / "big", 3, size=(32, 32), first_seed=500)
    big = pool_import(name="big", source=tmp_path / "big").pool
    response = researcher_client.post(reverse("surveys:survey_create"), {
        "name": "mixed", "pools": [small.pk, big.pk], "trials_per_participant": 4, "question_en": "q", "question_ja": "q",
    }, follow=True)
    html = response.content.decode()
    assert "differ in size" in html and "small: 16×16" in html and "big: 32×32" in html


def test_arms_of_one_size_are_not_flagged(researcher_client, make_pool):
    response = researcher_client.post(reverse("surveys:survey_create"), {
        "name": "even", "pools": [make_pool("a").pk, make_pool("b").pk], "trials_per_participant": 4,
        "question_en": "q", "question_ja": "q",
    }, follow=True)
    assert "differ in size" not in response.content.decode()
