"""The raw responses export (CSV) and the manifest (JSON) that ties a results table to it."""
import hashlib
import io
import json

import pandas as pd
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analysis import raw_export, tables
from generation.models import ImagePool
from surveys.models import Participant, Response, Survey, Trial
from tests.analysis.conftest import answer, make_survey

pytestmark = pytest.mark.django_db


def read_raw(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str)


@pytest.fixture
def detailed_survey(researcher):
    """Two participants: a Prolific worker who completed (one invalid trial), and an excluded lab one."""
    survey, arms = make_survey("detailed", [("A", 0), ("B", 1)], created_by=researcher)
    survey.protocol = {"choose": "real", "exposures_ms": [250, 1000]}
    survey.preset = "hype"
    survey.save()
    pool = arms["A"].pool
    pool.fingerprint = "f" * 64
    pool.model_family = "dcgan"
    pool.iteration = 5000
    pool.training_seconds = 7200.0
    pool.checkpoint = "runs/dcgan/ckpt-5000.pt"
    pool.seed = 42
    pool.save()
    worker = Participant.objects.create(
        survey=survey, platform=Participant.Platform.PROLIFIC, worker_id="PID123", completed_at=timezone.now()
    )
    answer(
        worker, arms["A"], arms["B"], "left", reaction_time_ms=812.5,
        client_timing={"exposure_ms": 250.1, "frames": 15, "viewport": [1280, 720]},
    )
    answer(
        worker, arms["B"], arms["A"], "right", valid=False, invalid_reasons=["dropped_frame", "focus_lost"],
        client_timing={"exposure_ms": 290.0, "frames": 17, "blurred": True},
    )
    excluded = Participant.objects.create(survey=survey, exclusion_reason="attention checks failed")
    response = answer(excluded, arms["A"], arms["B"], "right")
    Trial.objects.filter(pk=response.trial_id).update(phase=Trial.Phase.ATTENTION, expected_choice="left")
    Response.objects.filter(pk=response.pk).update(correct=False)
    answer(excluded, arms["B"], arms["A"], "left")
    Participant.objects.create(survey=survey, screened_out_at=timezone.now())
    return survey, arms


def test_raw_has_one_row_per_response_with_its_values(detailed_survey):
    survey, arms = detailed_survey
    raw = read_raw(raw_export.raw_csv(survey))
    assert len(raw) == Response.objects.filter(trial__participant__survey=survey).count() == 4
    first, second, attention = raw.iloc[0], raw.iloc[1], raw.iloc[2]
    assert first.survey_slug == survey.slug
    assert (first.platform, first.worker_id) == ("prolific", "PID123")
    assert (first.participant_completed, first.participant_excluded) == ("True", "False")
    assert (first.left_arm, first.right_arm, first.left_pool) == ("A", "B", arms["A"].pool.name)
    assert first.left_image == arms["A"].pool.images.first().public_id
    assert first.right_image == arms["B"].pool.images.first().public_id
    assert (first.choice, first.valid, first.invalid_reasons, first.reaction_time_ms) == ("left", "True", "", "812.5")
    assert first.created_at.endswith("+00:00")
    assert (second.valid, second.invalid_reasons) == ("False", "dropped_frame; focus_lost")
    assert (second.position, second.left_arm, second.choice) == ("1", "B", "right")
    assert attention.participant_excluded == "True"
    assert attention.participant_exclusion_reason == "attention checks failed"
    assert (attention.phase, attention.expected_choice, attention.correct) == ("attention", "left", "False")
    assert (attention.worker_id, attention.platform) == ("", "lab")


def test_raw_flattens_every_client_timing_key(detailed_survey):
    raw = read_raw(raw_export.raw_csv(detailed_survey[0]))
    timing = [column for column in raw.columns if column.startswith("timing_")]
    assert timing == ["timing_blurred", "timing_exposure_ms", "timing_frames", "timing_viewport"]
    assert raw.timing_exposure_ms.tolist() == ["250.1", "290.0", "", ""]
    assert json.loads(raw.timing_viewport.iloc[0]) == [1280, 720]
    assert raw.timing_viewport.iloc[1] == "" and raw.timing_blurred.iloc[1] == "True"
    assert list(raw.columns[: len(raw_export.RAW_COLUMNS)]) == raw_export.RAW_COLUMNS


def test_raw_real_fake_rows_name_the_single_image(db):
    survey, arms = make_survey("rf-raw", [("real", 0), ("gan", 1)])
    survey.kind = Survey.Kind.REAL_FAKE
    survey.save()
    participant = Participant.objects.create(survey=survey)
    image = arms["gan"].pool.images.first()
    trial = Trial.objects.create(
        participant=participant, position=0, left_arm=arms["gan"], left_image=image, exposure_ms=500,
        expected_choice="generated",
    )
    Response.objects.create(trial=trial, choice="real", correct=False, reaction_time_ms=640.0)
    row = read_raw(raw_export.raw_csv(survey)).iloc[0]
    assert (row.left_arm, row.left_image, row.left_pool) == ("gan", image.public_id, arms["gan"].pool.name)
    assert (row.right_arm, row.right_image, row.right_pool) == ("", "", "")
    assert (row.exposure_ms, row.expected_choice, row.choice, row.correct) == ("500", "generated", "real", "False")


def test_raw_is_read_in_a_bounded_number_of_queries(detailed_survey):
    survey, arms = detailed_survey
    with CaptureQueriesContext(connection) as few:
        raw_export.raw_csv(survey)
    participant = Participant.objects.create(survey=survey)
    for _ in range(30):
        answer(participant, arms["A"], arms["B"], "left", client_timing={"frames": 1})
    with CaptureQueriesContext(connection) as many:
        text = raw_export.raw_csv(survey)
    assert len(read_raw(text)) == 34
    assert len(many) == len(few) <= 2


def test_raw_of_a_survey_without_responses_is_just_the_header(db):
    survey, _ = make_survey("silent-raw", [("A", 0), ("B", 1)])
    assert raw_export.raw_csv(survey) == ",".join(raw_export.RAW_COLUMNS) + "\n"


def test_manifest_matches_the_database_and_the_raw_export(detailed_survey):
    survey, arms = detailed_survey
    found = json.loads(raw_export.manifest_json(survey))
    assert found["survey"]["protocol"] == Survey.objects.get(pk=survey.pk).protocol
    assert found["survey"]["slug"] == survey.slug and found["survey"]["preset"] == "hype"
    assert found["survey"]["main_trials"] == survey.trials_per_participant
    assert found["survey"]["questions"]["en"] == survey.question_en
    by_label = {arm["label"]: arm for arm in found["arms"]}
    for label, arm in arms.items():
        pool = ImagePool.objects.get(pk=arm.pool_id)
        assert by_label[label]["fingerprint"] == pool.fingerprint
        assert by_label[label]["pool"] == pool.name
        assert by_label[label]["images"] == pool.images.count()
    assert (by_label["A"]["model_family"], by_label["A"]["iteration"], by_label["A"]["seed"]) == ("dcgan", 5000, 42)
    assert by_label["A"]["training_seconds"] == 7200.0
    raw_bytes = raw_export.raw_csv(survey).encode("utf-8")
    assert found["raw_export"]["sha256"] == hashlib.sha256(raw_bytes).hexdigest()
    assert found["participants"] == {"started": 3, "completed": 1, "excluded": 1, "screened_out": 1}


@pytest.mark.parametrize("include_invalid", [False, True])
def test_manifest_exclusions_equal_the_table_summary(detailed_survey, include_invalid):
    survey = detailed_survey[0]
    found = json.loads(raw_export.manifest_json(survey, include_invalid=include_invalid))
    summary = tables.survey_results(survey=survey, include_invalid=include_invalid).summary
    assert found["exclusions"] == [
        {"rule": e.rule, "responses": e.responses, "participants": e.participants} for e in summary["exclusions"]
    ]
    assert sum(e["responses"] for e in found["exclusions"]) > 0
    assert found["responses_counted"] == summary["responses_counted"]
    assert found["methods"]["test"] == summary["test"] and found["methods"]["interval"] == summary["interval"]
    assert found["table_options"]["include_invalid"] is include_invalid


def test_manifest_names_the_software(detailed_survey):
    software = json.loads(raw_export.manifest_json(detailed_survey[0]))["software"]
    import django, numpy, pandas, scipy  # noqa: E401

    assert software["django"] == django.__version__
    found = (software["numpy"], software["scipy"], software["pandas"])
    assert found == (numpy.__version__, scipy.__version__, pandas.__version__)
    assert software["evalsite_commit"] is None or len(software["evalsite_commit"]) == 40


def test_results_page_offers_both_downloads_and_they_download(detailed_survey, researcher_client):
    survey = detailed_survey[0]
    page = researcher_client.get(f"/r/surveys/{survey.pk}/results/").content.decode()
    assert f"/r/surveys/{survey.pk}/export.raw" in page
    assert f"/r/surveys/{survey.pk}/export.manifest" in page
    raw = researcher_client.get(f"/r/surveys/{survey.pk}/export.raw")
    assert raw.status_code == 200 and raw["Content-Type"].startswith("text/csv")
    assert f'filename="{survey.slug}-responses.csv"' in raw["Content-Disposition"]
    assert len(read_raw(raw.content.decode())) == 4
    manifest = researcher_client.get(f"/r/surveys/{survey.pk}/export.manifest?include_invalid=1")
    assert manifest.status_code == 200 and manifest["Content-Type"].startswith("application/json")
    assert f'filename="{survey.slug}-manifest.json"' in manifest["Content-Disposition"]
    found = json.loads(manifest.content)
    assert found["raw_export"]["sha256"] == hashlib.sha256(raw.content).hexdigest()
    assert found["table_options"]["include_invalid"] is True


def test_the_old_formats_keep_their_filenames(detailed_survey, researcher_client):
    survey = detailed_survey[0]
    response = researcher_client.get(f"/r/surveys/{survey.pk}/export.csv")
    assert f'filename="{survey.slug}-results.csv"' in response["Content-Disposition"]


def test_command_writes_both(detailed_survey, tmp_path):
    survey = detailed_survey[0]
    raw_path, manifest_path = tmp_path / "raw.csv", tmp_path / "manifest.json"
    call_command("export_results", survey.slug, format="raw", output=str(raw_path), stdout=io.StringIO())
    call_command("export_results", survey.slug, format="manifest", output=str(manifest_path), stdout=io.StringIO())
    assert len(read_raw(raw_path.read_text(encoding="utf-8"))) == 4
    found = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert found["raw_export"]["sha256"] == hashlib.sha256(raw_path.read_bytes()).hexdigest()
    out = io.StringIO()
    call_command("export_results", str(survey.pk), format="raw", stdout=out)
    assert out.getvalue() == raw_path.read_text(encoding="utf-8")
