"""manage.py create_survey: a survey from a preset and pools, protocol fields changed with --set, links printed."""
import io
import re

import pytest
from django.core.management import CommandError, call_command

from surveys.models import Survey
from surveys.protocol import PRESETS

pytestmark = pytest.mark.django_db


@pytest.fixture
def pools(make_pool):
    bad = make_pool("noise", kind="generated")
    bad.obviously_bad = True
    bad.save()
    return {"real": make_pool("photos", kind="real"), "gan": make_pool("gan", kind="generated"),
            "gan2": make_pool("gan2", kind="generated"), "bad": bad}


def create(*args) -> str:
    out = io.StringIO()
    call_command("create_survey", *args, stdout=out)
    return out.getvalue()


def test_a_preset_survey_is_created_opened_and_its_links_printed(pools):
    out = create("CRN timed", "--preset", "crn-timed", "--pool", "photos", "--pool", "gan", "--attention-pool", "noise",
                 "--set", "exposures_ms=250, 1000", "--set", "trials_per_cell=2", "--prolific-code", "C0DE1",
                 "--open", "--base-url", "https://eval.example/")
    survey = Survey.objects.get(name="CRN timed")
    protocol = survey.get_protocol()
    assert survey.status == Survey.Status.OPEN and survey.preset == "crn-timed"
    assert protocol.exposures_ms == (250, 1000) and protocol.trials_per_cell == 2
    assert protocol.attention_checks == PRESETS["crn-timed"].protocol.attention_checks
    assert survey.trials_per_participant == 4 and survey.prolific_completion_code == "C0DE1"
    assert dict(survey.arms.values_list("pool__name", "role")) == {
        "photos": "compared", "gan": "compared", "noise": "attention_bad"}
    link = f"https://eval.example/s/{survey.slug}/"
    assert f"Plain link:                 {link}\n" in out
    assert f"{link}?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}&STUDY_ID={{{{%STUDY_ID%}}}}&SESSION_ID={{{{%SESSION_ID%}}}}" in out
    assert "No Prolific completion code" not in out


def test_without_a_preset_the_defaults_apply_and_a_draft_is_made(pools):
    out = create("plain", "--pool", "gan", "--pool", "gan2", "--trials", "12", "--set", "choose=fake", "--set", "blocks=2")
    survey = Survey.objects.get(name="plain")
    assert survey.status == Survey.Status.DRAFT and survey.kind == "pairwise" and survey.trials_per_participant == 12
    assert survey.get_protocol().choose == "fake" and survey.get_protocol().blocks == 2
    assert "No Prolific completion code" in out


def test_staircase_fields_and_switches(pools):
    create("adaptive", "--preset", "hype-time", "--pool", "photos", "--pool", "gan", "--trials", "30",
           "--set", "staircase.start_ms=400", "--set", "feedback=no", "--set", "mask_ms=none")
    protocol = Survey.objects.get(name="adaptive").get_protocol()
    assert protocol.staircase.start_ms == 400 and protocol.staircase.max_ms == 1000
    assert protocol.feedback is False and protocol.mask_ms is None
    create("fixed", "--preset", "hype-time", "--pool", "photos", "--pool", "gan", "--trials", "30",
           "--set", "staircase=none", "--set", "exposures_ms=500")
    assert Survey.objects.get(name="fixed").get_protocol().staircase is None


@pytest.mark.parametrize("args, message", [
    (["--preset", "nope", "--pool", "gan", "--pool", "gan2"], "No preset named 'nope'"),
    (["--pool", "gan", "--pool", "missing"], "No pool named 'missing'"),
    (["--pool", "gan", "--pool", "gan2", "--set", "speed=3"], "Unknown protocol field 'speed'"),
    (["--pool", "gan", "--pool", "gan2", "--set", "blocks"], "--set takes field=value"),
    (["--pool", "gan", "--pool", "gan2", "--set", "blocks=two"], "blocks takes a whole number"),
    (["--pool", "gan", "--pool", "gan2", "--set", "staircase.speed=1"], "Unknown staircase field 'speed'"),
    (["--pool", "gan", "--pool", "gan2", "--set", "exposures_ms=100,100"], "Each exposure may be listed only once."),
    (["--pool", "gan", "--pool", "noise"], "Pools marked obviously bad are for attention checks only"),
    (["--preset", "crn-unlimited", "--pool", "photos", "--pool", "gan"], "Attention checks from a pool need a pool"),
])
def test_mistakes_are_command_errors_and_create_nothing(pools, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        create("broken", *args)
    assert not Survey.objects.exists()
