"""Crowd participants: Prolific and MTurk links, one session per worker, and where a finished session ends."""
import html
import re
import threading
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from surveys import crowd, services
from surveys.models import Participant, Response, Trial

pytestmark = pytest.mark.django_db

SANDBOX = "https://workersandbox.mturk.com"
PROLIFIC = {"PROLIFIC_PID": "5f1a2b3c4d5e6f7a8b9c0d1e", "STUDY_ID": "65aa00bb11cc22dd33ee44ff", "SESSION_ID": "sess1234abcd"}


def mturk(worker="A1WORKER", assignment="3ASSIGNMENT1", submit_to=SANDBOX, hit="3HITID"):
    return {"assignmentId": assignment, "hitId": hit, "workerId": worker, "turkSubmitTo": submit_to}


@pytest.fixture
def survey(make_pool):
    survey = services.survey_create(name="crowd", pools=[make_pool("a"), make_pool("b")], trials_per_participant=3,
                                    prolific_completion_code="C0MPLETE1", prolific_screened_out_code="SCREENED1")
    return services.survey_open(survey=survey)


def link(survey, params=None):
    url = reverse("surveys:welcome", kwargs={"slug": survey.slug})
    return f"{url}?{urlencode(params)}" if params else url


def page(name, survey):
    return reverse(f"surveys:{name}", kwargs={"slug": survey.slug})


def consent(client, survey, params=None):
    """Open the link, then post the consent form back to the address it names, as a browser does."""
    form = client.get(link(survey, params)).content.decode()
    action = html.unescape(re.search(r'<form method="post" action="([^"]*)"', form).group(1))
    return client.post(action, {"consent": "yes"})


def finish(participant):
    """Answer every trial through the answer service, as the runner does."""
    for trial in participant.trials.order_by("position"):
        services.response_record(participant=participant, position=trial.position,
                                 choice=services.trial_choices(trial)[0])
    participant.refresh_from_db()
    return participant


# --- Reading the link ---------------------------------------------------------------------------


def identity(params):
    return crowd.identity_from_query(QueryDict(urlencode(params)))


def test_prolific_parameters_make_a_prolific_identity():
    found = identity(PROLIFIC)
    assert (found.platform, found.worker_id, found.study_id, found.crowd_session_id) == (
        "prolific", PROLIFIC["PROLIFIC_PID"], PROLIFIC["STUDY_ID"], PROLIFIC["SESSION_ID"])


def test_mturk_parameters_make_an_mturk_identity():
    found = identity(mturk())
    assert (found.platform, found.worker_id, found.assignment_id, found.hit_id, found.turk_submit_to) == (
        "mturk", "A1WORKER", "3ASSIGNMENT1", "3HITID", SANDBOX)
    assert not found.preview


def test_no_parameters_is_a_plain_link():
    assert identity({}) == crowd.CrowdIdentity(platform="lab")
    assert identity({"utm_source": "mail"}).platform == "lab"


@pytest.mark.parametrize("params", [
    {"PROLIFIC_PID": "<script>"},
    {"PROLIFIC_PID": "x" * 101},
    {"PROLIFIC_PID": ""},
    {"STUDY_ID": "65aa00bb11cc22dd33ee44ff"},  # no participant id at all
    {**PROLIFIC, "SESSION_ID": "a/b"},
    {**mturk(), "workerId": "A1 WORKER"},
    {k: v for k, v in mturk().items() if k != "workerId"},
    {**PROLIFIC, **mturk()},
])
def test_malformed_or_mixed_ids_are_refused(params):
    with pytest.raises(crowd.CrowdRefused):
        identity(params)


@pytest.mark.parametrize("submit_to, allowed", [
    ("https://www.mturk.com", "https://www.mturk.com"),
    ("https://workersandbox.mturk.com/", SANDBOX),
    ("HTTPS://WorkerSandbox.MTurk.com", SANDBOX),
    ("http://www.mturk.com", None),  # the scheme is part of the allowed origin
    ("https://www.mturk.com.evil.example", None),
    ("https://evil.example/www.mturk.com", None),
    ("https://www.mturk.com/mturk/externalSubmit", None),
    ("https://www.mturk.com?next=https://evil.example", None),
    ("https://attacker@www.mturk.com", None),
    ("https://www.mturk.com:8443", None),
    ("//www.mturk.com", None),
    ("javascript:alert(1)", None),
    ("", None),
])
def test_turk_submit_to_must_be_an_allowed_origin_exactly(submit_to, allowed):
    assert crowd.allowed_submit_origin(submit_to) == allowed


def test_the_allowed_submit_hosts_come_from_settings(settings):
    settings.EVALSITE_MTURK_SUBMIT_HOSTS = ["https://mturk.test.example"]
    assert crowd.allowed_submit_origin("https://mturk.test.example") == "https://mturk.test.example"
    assert crowd.allowed_submit_origin("https://www.mturk.com") is None


def test_a_link_with_a_foreign_submit_host_is_refused_and_creates_nothing(client, survey):
    refused = client.get(link(survey, mturk(submit_to="https://evil.example")))
    assert refused.status_code == 400
    assert "submission address is not one this study accepts" in html.unescape(refused.content.decode())
    assert 'name="consent"' not in refused.content.decode()
    client.post(link(survey, mturk(submit_to="https://evil.example")), {"consent": "yes"})
    assert not Participant.objects.exists()


def test_a_malformed_prolific_id_is_refused_on_the_page(client, survey):
    refused = client.get(link(survey, {**PROLIFIC, "PROLIFIC_PID": "<b>bold</b>"}))
    assert refused.status_code == 400 and "<b>bold</b>" not in refused.content.decode()
    assert "PROLIFIC_PID is missing or malformed" in refused.content.decode()


# --- MTurk preview ------------------------------------------------------------------------------


def test_an_mturk_preview_describes_the_task_and_creates_nothing(client, survey):
    preview = mturk(worker="", assignment=crowd.MTURK_PREVIEW_ASSIGNMENT)
    del preview["workerId"]
    shown = client.get(link(survey, preview))
    text = shown.content.decode()
    assert shown.status_code == 200 and 'id="preview"' in text
    assert "Accept the HIT to begin." in text and "3 pairs of images" in text and "about 1 minute" in text
    assert 'name="consent"' not in text
    client.post(link(survey, preview), {"consent": "yes"})
    assert not Participant.objects.exists()
    assert client.get(page("instructions", survey))["Location"] == link(survey)  # no session was made


def test_the_preview_may_be_framed_by_mturk_only(client, survey):
    shown = client.get(link(survey, {"assignmentId": crowd.MTURK_PREVIEW_ASSIGNMENT, "hitId": "3HITID"}))
    assert "X-Frame-Options" not in shown
    assert shown["Content-Security-Policy"] == f"frame-ancestors https://*.mturk.com https://www.mturk.com {SANDBOX}"
    consent_page = client.get(link(survey, mturk()))
    assert consent_page["X-Frame-Options"] == "DENY"  # pages with our forms are never framed


def test_an_accepted_hit_in_mturks_frame_opens_the_study_in_a_tab(client, survey):
    framed = client.get(link(survey, mturk()), headers={"Sec-Fetch-Dest": "iframe"})
    text = html.unescape(framed.content.decode())
    assert 'id="open-study"' in text and 'target="_blank"' in text and "workerId=A1WORKER" in text
    assert f'action="{SANDBOX}/mturk/externalSubmit"' in text and 'value="3ASSIGNMENT1"' in text
    assert "csrfmiddlewaretoken" not in text  # nothing of ours is posted to MTurk
    assert not Participant.objects.exists()


# --- Consent carries the identity ---------------------------------------------------------------


def test_a_prolific_participant_keeps_their_ids_through_consent(client, survey):
    response = consent(client, survey, PROLIFIC)
    assert response["Location"] == page("instructions", survey)
    participant = Participant.objects.get()
    assert (participant.platform, participant.worker_id, participant.study_id, participant.crowd_session_id) == (
        "prolific", PROLIFIC["PROLIFIC_PID"], PROLIFIC["STUDY_ID"], PROLIFIC["SESSION_ID"])
    assert client.get(page("instructions", survey)).status_code == 200


def test_an_mturk_worker_keeps_their_ids_through_consent(client, survey):
    consent(client, survey, mturk())
    participant = Participant.objects.get()
    assert (participant.platform, participant.worker_id, participant.assignment_id, participant.hit_id,
            participant.turk_submit_to) == ("mturk", "A1WORKER", "3ASSIGNMENT1", "3HITID", SANDBOX)


def test_a_plain_link_makes_a_lab_participant(client, survey):
    consent(client, survey)
    assert Participant.objects.get().platform == "lab" and Participant.objects.get().worker_id == ""


# --- One session per worker ---------------------------------------------------------------------


def test_the_same_worker_resumes_in_another_browser(client, survey):
    consent(client, survey, PROLIFIC)
    participant = Participant.objects.get()
    services.response_record(participant=participant, position=0, choice="left")
    other_browser = Client()
    resumed = other_browser.get(link(survey, PROLIFIC))
    assert resumed["Location"] == page("trial", survey)
    assert Participant.objects.count() == 1
    # The other browser now holds the same participant: its answer goes to trial 1 of the same sequence.
    other_browser.post(page("answer", survey), {"position": 1, "choice": "right"})
    assert Response.objects.filter(trial__participant=participant).count() == 2


def test_a_returning_mturk_worker_submits_their_new_assignment(client, survey):
    consent(client, survey, mturk())
    Client().get(link(survey, mturk(assignment="3ASSIGNMENT2", submit_to="https://www.mturk.com", hit="3HIT2")))
    participant = Participant.objects.get()
    assert (participant.assignment_id, participant.hit_id, participant.turk_submit_to) == (
        "3ASSIGNMENT2", "3HIT2", "https://www.mturk.com")


def test_a_second_worker_in_the_same_browser_is_refused_and_nothing_changes(client, survey):
    consent(client, survey, mturk(worker="A1WORKER"))
    first = Participant.objects.get()
    before = {field: getattr(first, field) for field in crowd.CrowdIdentity().start_fields()}
    other = link(survey, mturk(worker="B2WORKER", assignment="3OTHER"))
    for refused in (client.get(other), client.post(other, {"consent": "yes"})):
        assert refused.status_code == 409
        assert "already taken part in this study under another id" in refused.content.decode()
    assert Participant.objects.count() == 1
    first.refresh_from_db()
    assert {field: getattr(first, field) for field in before} == before
    assert client.get(page("instructions", survey)).status_code == 200  # still worker A's session


def test_a_prolific_id_in_a_browser_that_took_part_by_plain_link_is_refused(client, survey):
    consent(client, survey)
    assert client.get(link(survey, PROLIFIC)).status_code == 409
    assert Participant.objects.count() == 1


def test_a_worker_returning_through_the_plain_link_resumes(client, survey):
    consent(client, survey, PROLIFIC)
    assert client.get(link(survey))["Location"] == page("instructions", survey)
    assert Participant.objects.count() == 1


def test_a_start_that_loses_the_race_gets_the_workers_participant(survey):
    """Two consent posts of one worker at once: the second insert hits the constraint and takes the first's participant."""
    worker = crowd.identity_from_query(QueryDict(urlencode(mturk())))
    first = crowd.participant_start_or_existing(survey=survey, identity=worker, language="en", user_agent="")
    newer = crowd.identity_from_query(QueryDict(urlencode(mturk(assignment="3ASSIGNMENT2"))))
    second = crowd.participant_start_or_existing(survey=survey, identity=newer, language="en", user_agent="")
    assert second.pk == first.pk and Participant.objects.count() == 1
    assert second.assignment_id == "3ASSIGNMENT2"
    assert Trial.objects.filter(participant=first).count() == 3  # the loser's trials were rolled back


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_starts_of_one_worker_make_one_participant(survey):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/test (make test does)")
    worker = crowd.identity_from_query(QueryDict(urlencode(PROLIFIC)))
    barrier = threading.Barrier(6)
    found = []

    def start():
        try:
            barrier.wait()
            found.append(crowd.participant_start_or_existing(survey=survey, identity=worker, language="en",
                                                             user_agent="").pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 6 and len(set(found)) == 1
    assert Participant.objects.count() == 1


def test_a_closed_survey_lets_started_workers_finish_and_refuses_new_ones(client, survey):
    consent(client, survey, PROLIFIC)
    services.survey_close(survey=survey)
    assert Client().get(link(survey, PROLIFIC))["Location"] == page("instructions", survey)
    newcomer = Client().get(link(survey, {**PROLIFIC, "PROLIFIC_PID": "6f" * 12}))
    assert "closed" in newcomer.content.decode() and 'name="consent"' not in newcomer.content.decode()
    assert Participant.objects.count() == 1


# --- The done page ------------------------------------------------------------------------------


def test_the_done_page_waits_for_the_last_answer(client, survey):
    consent(client, survey, PROLIFIC)
    assert client.get(page("done", survey))["Location"] == page("trial", survey)
    assert client.get(page("instructions", survey)).status_code == 200


def test_a_finished_lab_participant_gets_their_code(client, survey):
    consent(client, survey)
    participant = finish(Participant.objects.get())
    done = client.get(page("done", survey)).content.decode()
    assert f'<span class="code" id="completion-code">{participant.completion_code}</span>' in done
    assert "prolific.com" not in done and "externalSubmit" not in done
    # Coming back through the link of a finished session shows the end again.
    assert client.get(link(survey))["Location"] == page("done", survey)


def test_a_finished_prolific_participant_is_sent_back_to_prolific(client, survey):
    consent(client, survey, PROLIFIC)
    finish(Participant.objects.get())
    done = client.get(page("done", survey)).content.decode()
    target = "https://app.prolific.com/submissions/complete?cc=C0MPLETE1"
    assert f'<meta http-equiv="refresh" content="0;url={target}">' in done
    assert 'location.replace(document.getElementById("return-to-platform").href)' in done
    assert f'<a class="button" id="return-to-platform" href="{target}">' in done


def test_a_prolific_survey_without_a_code_shows_the_participants_own(client, survey):
    survey.prolific_completion_code = ""
    survey.save()
    consent(client, survey, PROLIFIC)
    participant = finish(Participant.objects.get())
    done = client.get(page("done", survey)).content.decode()
    assert "prolific.com" not in done and participant.completion_code in done


def test_a_finished_mturk_worker_submits_the_hit(client, survey):
    consent(client, survey, mturk())
    participant = finish(Participant.objects.get())
    done = client.get(page("done", survey)).content.decode()
    form = re.search(r'<form method="post" action="([^"]+)" id="mturk-submit">(.*?)</form>', done, re.S)
    assert form.group(1) == f"{SANDBOX}/mturk/externalSubmit"
    assert '<input type="hidden" name="assignmentId" value="3ASSIGNMENT1">' in form.group(2)
    assert f'<input type="hidden" name="completion_code" value="{participant.completion_code}">' in form.group(2)
    assert "csrfmiddlewaretoken" not in form.group(2)
    assert '<button type="submit">' in form.group(2)
    assert 'document.getElementById("mturk-submit").submit()' in done


def test_an_mturk_host_no_longer_allowed_gets_no_form(client, survey, settings):
    consent(client, survey, mturk())
    participant = finish(Participant.objects.get())
    settings.EVALSITE_MTURK_SUBMIT_HOSTS = ["https://www.mturk.com"]
    done = client.get(page("done", survey)).content.decode()
    assert "externalSubmit" not in done and participant.completion_code in done


@pytest.fixture
def qualifying_survey(make_pool):
    survey = services.survey_create(
        name="qualified", pools=[make_pool("photos", kind="real"), make_pool("gan", kind="generated")],
        preset="hype-infinity", trials_per_participant=4, protocol={"qualification_trials": 4},
        prolific_completion_code="C0MPLETE1", prolific_screened_out_code="SCREENED1",
    )
    return services.survey_open(survey=survey)


def fail_the_qualification(participant):
    for trial in participant.trials.filter(phase=Trial.Phase.QUALIFICATION).order_by("position"):
        wrong = "generated" if trial.expected_choice == "real" else "real"
        services.response_record(participant=participant, position=trial.position, choice=wrong)
    participant.refresh_from_db()
    assert participant.screened_out_at is not None
    return participant


def test_a_screened_out_prolific_participant_reads_why_then_returns_with_the_screened_out_code(client, qualifying_survey):
    consent(client, qualifying_survey, PROLIFIC)
    fail_the_qualification(Participant.objects.get())
    done = client.get(page("done", qualifying_survey)).content.decode()
    assert 'id="screened-out"' in done and "so the study ends here" in done
    assert "cc=SCREENED1" in done and "cc=C0MPLETE1" not in done
    assert '<meta http-equiv="refresh" content="10;' in done


def test_a_screened_out_lab_participant_gets_the_polite_page(client, qualifying_survey):
    consent(client, qualifying_survey)
    participant = fail_the_qualification(Participant.objects.get())
    done = client.get(page("done", qualifying_survey)).content.decode()
    assert 'id="screened-out"' in done and participant.completion_code in done
    assert "You have answered every question." not in done


def test_the_screened_out_page_is_in_japanese_for_japanese_participants(client, qualifying_survey):
    consent(client, qualifying_survey)
    fail_the_qualification(Participant.objects.get())
    done = client.get(page("done", qualifying_survey), headers={"Accept-Language": "ja"}).content.decode()
    assert '<html lang="ja">' in done and "ご協力ありがとうございました" in done
