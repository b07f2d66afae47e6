"""Researcher pages: the survey form with presets, the survey page (links, protocol, counts), Prolific codes."""
import functools
import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from generation.models import ImagePool
from surveys import services
from surveys.forms import SurveyCreateForm
from surveys.models import Participant, Survey
from surveys.protocol import PRESETS

pytestmark = pytest.mark.django_db

CREATE = "/r/surveys/new/"


def form_data(preset: str = "questionnaire", **changes) -> dict:
    """What a browser posts for the form as the preset fills it, with ``changes``; unchecked boxes are left out."""
    data = {key: value for key, value in SurveyCreateForm.initial_for(preset).items() if value is not None}
    data.update(changes)
    return {key: ("on" if value is True else value) for key, value in data.items() if value is not False}


@pytest.fixture
def make_pool(make_pool, researcher):
    """The researcher's own pools: the pages show a researcher only what they created (tests/security)."""
    return functools.partial(make_pool, created_by=researcher)


@pytest.fixture
def pools(make_pool):
    """A real pool, two generated ones and an obviously bad one."""
    real = make_pool("photos", kind="real")
    gan_a = make_pool("gan-a", kind="generated")
    gan_b = make_pool("gan-b", kind="generated")
    bad = make_pool("noise", kind="generated")
    bad.obviously_bad = True
    bad.save()
    return {"real": real, "a": gan_a, "b": gan_b, "bad": bad}


@pytest.mark.parametrize("name, kwargs", [("dashboard", {}), ("survey_create", {}), ("survey_detail", {"pk": 1})])
def test_researcher_pages_need_login(client, name, kwargs):
    response = client.get(reverse(f"surveys:{name}", kwargs=kwargs))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_status_change_needs_login(client, make_pool):
    survey = services.survey_create(name="s", pools=[make_pool("a"), make_pool("b")])
    client.post(reverse("surveys:survey_status", kwargs={"pk": survey.pk}), {"action": "open"})
    assert Survey.objects.get().status == Survey.Status.DRAFT


def test_create_open_and_close_a_survey(researcher_client, make_pool):
    pools = [make_pool("alpha"), make_pool("beta")]
    form = researcher_client.get(CREATE).content.decode()
    assert "alpha (imported, 6 images)" in form
    response = researcher_client.post(CREATE, form_data(
        name="my study", pools=[p.pk for p in pools], trials_per_participant=10,
        question_en="Which is sharper?", question_ja="どちらが鮮明ですか？", open_now=True,
    ))
    survey = Survey.objects.get(name="my study")
    assert response["Location"] == reverse("surveys:survey_detail", kwargs={"pk": survey.pk})
    assert survey.status == Survey.Status.OPEN and survey.trials_per_participant == 10
    assert survey.question_en == "Which is sharper?"
    assert [arm.label for arm in survey.arms.all()] == ["alpha", "beta"]
    detail = researcher_client.get(response["Location"]).content.decode()
    assert f"/s/{survey.slug}/" in detail
    researcher_client.post(reverse("surveys:survey_status", kwargs={"pk": survey.pk}), {"action": "close"})
    assert Survey.objects.get().status == Survey.Status.CLOSED


def test_a_survey_of_one_pool_is_refused_with_a_message(researcher_client, make_pool):
    pool = make_pool("alpha")
    response = researcher_client.post(CREATE, form_data(name="lonely", pools=[pool.pk]))
    assert response.status_code == 200 and "A pairwise survey compares at least two pools." in response.content.decode()
    assert not Survey.objects.exists()


def test_arms_of_different_image_sizes_are_flagged(researcher_client, researcher, make_pool, tmp_path):
    from generation.services import pool_import
    from tests.images import write_images

    small = make_pool("small")  # 16×16
    write_images(tmp_path / "big", 3, size=(32, 32), first_seed=500)
    big = pool_import(name="big", source=tmp_path / "big", created_by=researcher).pool
    response = researcher_client.post(CREATE, form_data(name="mixed", pools=[small.pk, big.pk], trials_per_participant=4),
                                      follow=True)
    html_text = response.content.decode()
    assert "differ in size" in html_text and "small: 16×16" in html_text and "big: 32×32" in html_text


def test_arms_of_one_size_are_not_flagged(researcher_client, make_pool):
    response = researcher_client.post(CREATE, form_data(name="even", pools=[make_pool("a").pk, make_pool("b").pk]),
                                      follow=True)
    assert "differ in size" not in response.content.decode()


# --- Presets ------------------------------------------------------------------------------------


def test_choosing_a_preset_reloads_the_form_with_its_values(researcher_client):
    page = researcher_client.get(CREATE, {"preset": "crn-timed"}).content.decode()
    assert 'value="125, 250, 500, 1000, 2000, 4000, 8000"' in page
    assert 'name="trials_per_cell" value="5"' in page and 'name="attention_exposure_ms" value="4000"' in page
    assert 'name="preset" value="crn-timed"' in page
    assert '<option value="crn-timed" selected>' in page
    # Without JavaScript the preset select is a plain GET form with its own button.
    assert 'form method="get" id="preset-form"' in page and 'id="use-preset"' in page
    default = researcher_client.get(CREATE).content.decode()
    assert 'name="preset" value="questionnaire"' in default and "Click or tap the image that looks best generated." in default


def test_hype_time_preset_fills_the_staircase(researcher_client):
    page = researcher_client.get(CREATE, {"preset": "hype-time"}).content.decode()
    assert re.search(r'<input type="checkbox" name="adaptive"[^>]* checked>', page)
    assert 'name="staircase_start_ms" value="500"' in page and 'name="staircase_step_after_correct_ms" value="30"' in page
    assert '<option value="real_fake" selected>' in page


def _pools_for(preset: str, pools: dict) -> dict:
    """The questionnaire compares generated pools; every other preset sets real images against generated ones."""
    compared = [pools["a"], pools["b"]] if preset == "questionnaire" else [pools["real"], pools["a"]]
    return {"pools": [pool.pk for pool in compared], "attention_bad_pool": pools["bad"].pk}


@pytest.mark.parametrize("preset", list(PRESETS))
def test_each_preset_creates_a_survey_with_its_protocol(researcher_client, pools, preset):
    data = form_data(preset, name=f"study {preset}", **_pools_for(preset, pools))
    response = researcher_client.post(CREATE, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    survey = Survey.objects.get(name=f"study {preset}")
    expected = PRESETS[preset]
    assert survey.preset == preset and survey.kind == expected.kind
    assert survey.get_protocol() == expected.protocol
    assert survey.question_en == expected.question_en and survey.question_ja == expected.question_ja
    if expected.protocol.trials_per_cell is None:
        assert survey.trials_per_participant == expected.trials
    roles = set(survey.arms.values_list("role", flat=True))
    assert ("attention_bad" in roles) == bool(expected.protocol.attention_checks)
    detail = researcher_client.get(response["Location"]).content.decode()
    assert expected.title in html.unescape(detail)


def test_an_adjusted_field_sticks(researcher_client, pools):
    data = form_data("crn-timed", name="short timed", exposures_ms="250, 1000", trials_per_cell=2, mask_count=3,
                     **_pools_for("crn-timed", pools))
    researcher_client.post(CREATE, data)
    survey = Survey.objects.get(name="short timed")
    protocol = survey.get_protocol()
    assert protocol.exposures_ms == (250, 1000) and protocol.trials_per_cell == 2 and protocol.mask_count == 3
    assert protocol.attention_checks == 5  # untouched fields keep the preset's values
    assert survey.trials_per_participant == 1 * 2 * 2  # one comparison × two exposures × two per cell
    assert survey.preset == "crn-timed"


def test_the_staircase_can_be_turned_off_and_fixed_exposures_given(researcher_client, pools):
    data = form_data("hype-time", name="fixed", adaptive=False, exposures_ms="500", pools=[pools["real"].pk, pools["a"].pk])
    researcher_client.post(CREATE, data)
    protocol = Survey.objects.get(name="fixed").get_protocol()
    assert protocol.staircase is None and protocol.exposures_ms == (500,)


@pytest.mark.parametrize("changes, message", [
    ({"exposures_ms": "100, 100"}, "Each exposure may be listed only once."),
    ({"exposures_ms": "fast"}, "Give whole milliseconds separated by commas"),
    ({"adaptive": True}, "An adaptive exposure (staircase) needs the real_fake kind."),
    ({"blocks": 50}, "blocks is 1 or more, and at most the number of main trials."),
    ({"attention_checks": 2}, "Pairwise attention checks set a real image against a bad one"),
    ({"prolific_completion_code": "AB CD<"}, "A Prolific code is letters and digits only."),
])
def test_bad_input_shows_the_error_and_creates_nothing(researcher_client, pools, changes, message):
    data = form_data(name="broken", pools=[pools["a"].pk, pools["b"].pk], **changes)
    response = researcher_client.post(CREATE, data)
    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert not Survey.objects.exists()


def test_obviously_bad_pools_are_offered_only_for_attention_checks(researcher_client, researcher, pools):
    form = SurveyCreateForm(user=researcher)
    assert pools["bad"] not in form.fields["pools"].queryset
    assert list(form.fields["attention_bad_pool"].queryset) == [pools["bad"]]
    assert list(form.fields["attention_real_pool"].queryset) == [pools["real"]]
    response = researcher_client.post(CREATE, form_data(name="bad arm", pools=[pools["a"].pk, pools["bad"].pk]))
    assert response.status_code == 200 and not Survey.objects.exists()


def test_a_real_pool_for_attention_checks_when_no_compared_pool_is_real(researcher_client, pools):
    data = form_data("crn-unlimited", name="gan vs gan", pools=[pools["a"].pk, pools["b"].pk],
                     attention_bad_pool=pools["bad"].pk, attention_real_pool=pools["real"].pk)
    assert researcher_client.post(CREATE, data).status_code == 302
    survey = Survey.objects.get(name="gan vs gan")
    assert dict(survey.arms.values_list("pool__name", "role")) == {
        "gan-a": "compared", "gan-b": "compared", "noise": "attention_bad", "photos": "attention_real"}


# --- The survey page ----------------------------------------------------------------------------


@pytest.fixture
def open_survey(pools, researcher):
    survey = services.survey_create(name="page", pools=[pools["real"], pools["a"]], preset="crn-unlimited",
                                    attention_bad_pool=pools["bad"], created_by=researcher)
    return services.survey_open(survey=survey)


def test_survey_page_gives_the_three_links(researcher_client, open_survey):
    page = html.unescape(researcher_client.get(reverse("surveys:survey_detail", kwargs={"pk": open_survey.pk})).content.decode())
    plain = f"http://testserver/s/{open_survey.slug}/"
    assert f'<code id="participant-link">{plain}</code>' in page
    assert (f'<code id="prolific-link">{plain}?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}&STUDY_ID={{{{%STUDY_ID%}}}}'
            f'&SESSION_ID={{{{%SESSION_ID%}}}}</code>') in page
    assert f'<code id="mturk-link">{plain}</code>' in page
    assert f"<ExternalURL>{plain}</ExternalURL>" in page
    assert page.count('data-copy="') == 4


def test_survey_page_warns_while_no_prolific_code_is_set(researcher_client, open_survey):
    detail = reverse("surveys:survey_detail", kwargs={"pk": open_survey.pk})
    assert 'id="prolific-code-missing"' in researcher_client.get(detail).content.decode()
    researcher_client.post(reverse("surveys:survey_prolific", kwargs={"pk": open_survey.pk}),
                           {"prolific_completion_code": "C1AB2CD3", "prolific_screened_out_code": "SCR33N"})
    open_survey.refresh_from_db()
    assert (open_survey.prolific_completion_code, open_survey.prolific_screened_out_code) == ("C1AB2CD3", "SCR33N")
    assert 'id="prolific-code-missing"' not in researcher_client.get(detail).content.decode()


def test_a_malformed_prolific_code_is_refused_with_a_message(researcher_client, open_survey):
    url = reverse("surveys:survey_prolific", kwargs={"pk": open_survey.pk})
    page = researcher_client.post(url, {"prolific_completion_code": "bad code\"><", "prolific_screened_out_code": ""},
                                  follow=True).content.decode()
    assert "A Prolific code is letters and digits only." in page
    open_survey.refresh_from_db()
    assert open_survey.prolific_completion_code == ""


def test_prolific_codes_need_login(client, open_survey):
    url = reverse("surveys:survey_prolific", kwargs={"pk": open_survey.pk})
    assert client.post(url, {"prolific_completion_code": "C1AB2CD3"})["Location"].startswith(reverse("login"))
    open_survey.refresh_from_db()
    assert open_survey.prolific_completion_code == ""


def test_survey_page_summarises_the_protocol_and_counts_participants(researcher_client, open_survey):
    now = timezone.now()
    for worker, fields in [("W1", {"completed_at": now}), ("W2", {"exclusion_reason": "failed 3 of 10 attention checks"}),
                           ("W3", {"screened_out_at": now, "exclusion_reason": "screened out"}), ("W4", {})]:
        participant = services.participant_start(survey=open_survey, platform="prolific", worker_id=worker)
        Participant.objects.filter(pk=participant.pk).update(**fields)
    page = html.unescape(researcher_client.get(reverse("surveys:survey_detail", kwargs={"pk": open_survey.pk})).content.decode())
    assert "4 started · 1 completed · 1 screened out · 1 excluded" in " ".join(page.split())
    assert "<th>Attention checks</th><td>10 from an obviously bad pool, shown unlimited;" in page
    assert "<th>Exposure</th><td>unlimited (until the answer)</td>" in page
    assert "CRN: which is more realistic, unlimited time" in page
    rows = re.findall(r"<tr>\s*<td class=\"num\">\d+</td>(.*?)</tr>", page, re.S)
    states = {re.search(r"<code>(W\d)</code>", row).group(1): re.sub(r"<[^>]+>", " ", row) for row in rows}
    assert set(states) == {"W1", "W2", "W3", "W4"}
    assert "completed" in states["W1"] and "in progress; excluded: failed 3 of 10 attention checks" in states["W2"]
    assert "screened out" in states["W3"] and "0/110" in states["W4"]
    for participant in Participant.objects.all():
        assert f"<code>{participant.completion_code}</code>" in page


# --- The pool page's mark -----------------------------------------------------------------------


def test_pool_page_marks_a_pool_obviously_bad_and_back(researcher_client, make_pool):
    pool = make_pool("blobs")
    page = researcher_client.get(reverse("generation:pool_detail", kwargs={"pk": pool.pk})).content.decode()
    assert "Obviously bad (for attention checks)" in page
    url = reverse("generation:pool_obviously_bad", kwargs={"pk": pool.pk})
    assert researcher_client.post(url, {"obviously_bad": "on"})["Location"] == f"/r/pools/{pool.pk}/"
    assert ImagePool.objects.get(pk=pool.pk).obviously_bad
    researcher_client.post(url, {})
    assert not ImagePool.objects.get(pk=pool.pk).obviously_bad


def test_pool_mark_needs_post(researcher_client, make_pool):
    pool = make_pool("blobs")
    assert researcher_client.get(reverse("generation:pool_obviously_bad", kwargs={"pk": pool.pk})).status_code == 405


def test_pool_mark_needs_login(client, make_pool):
    pool = make_pool("blobs")
    client.post(reverse("generation:pool_obviously_bad", kwargs={"pk": pool.pk}), {"obviously_bad": "on"})
    assert not ImagePool.objects.get(pk=pool.pk).obviously_bad
