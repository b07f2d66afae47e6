"""Implausibly fast answers, exposure curves with psychometric thresholds, HYPE scores and the
equal-iterations / equal-training-time table, each checked against answers written through the ORM
and against stats.py computed by hand on the same numbers."""
import math

import numpy as np
import pytest
from scipy.stats import beta

from analysis import selectors, stats, tables
from generation.models import ImagePool
from surveys.models import Participant, Response, Trial
from tests.analysis.conftest import answer, make_survey

pytestmark = pytest.mark.django_db


def _timed_answer(participant, left, right, choice, *, exposure_ms=None, reaction_time_ms=900.0, block=0):
    response = answer(participant, left, right, choice, reaction_time_ms=reaction_time_ms)
    Trial.objects.filter(pk=response.trial_id).update(exposure_ms=exposure_ms, block=block)
    return response


def _judge(participant, arm, choice: str, *, exposure_ms=None, block=0, reaction_time_ms=900.0) -> Response:
    trial = Trial.objects.create(
        participant=participant, position=participant.trials.count(), left_arm=arm, block=block,
        left_image=arm.pool.images.first(), exposure_ms=exposure_ms,
        expected_choice="real" if arm.pool.kind == ImagePool.Kind.REAL else "generated",
    )
    return Response.objects.create(trial=trial, choice=choice, correct=choice == trial.expected_choice,
                                   reaction_time_ms=reaction_time_ms)


def _make_real(arm) -> None:
    ImagePool.objects.filter(pk=arm.pool_id).update(kind=ImagePool.Kind.REAL)
    arm.pool.refresh_from_db()


# --- Implausibly fast answers ---------------------------------------------------------------------


def test_fast_answers_and_participants_clicking_through_are_removed_and_reported(db):
    survey, arms = make_survey("speed", [("A", 0), ("B", 1)])
    careful, hasty = Participant.objects.create(survey=survey), Participant.objects.create(survey=survey)
    a, b = arms["A"], arms["B"]
    for rt in (900, 1200, 120, 700, 800):  # one fast answer in five: 20 %, not clicking through
        answer(careful, a, b, "left", reaction_time_ms=rt)
    for rt in (100, 150, 900, 1000):  # half of them fast: clicking through, every answer goes
        answer(hasty, a, b, "right", reaction_time_ms=rt)
    frame = selectors.survey_responses_frame(survey=survey)

    counted, exclusions = tables.counted_responses(frame)

    assert sorted(counted["reaction_time_ms"]) == [700, 800, 900, 1200]
    by_rule = {e.rule: (e.responses, e.participants) for e in exclusions}
    assert by_rule[tables.rule_fast_participants(250, 0.25)] == (4, 1)
    assert by_rule[tables.rule_fast_answers(250)] == (1, 1)
    off, _ = tables.counted_responses(frame, min_reaction_ms=0)
    assert len(off) == 9
    stricter, _ = tables.counted_responses(frame, min_reaction_ms=1000)  # careful: 3 of 5 fast -> out too
    assert stricter.empty


def test_answers_without_a_reaction_time_are_not_called_fast(db):
    survey, arms = make_survey("no rt", [("A", 0), ("B", 1)])
    person = Participant.objects.create(survey=survey)
    answer(person, arms["A"], arms["B"], "left")  # a no-JavaScript form answer has no reaction time
    counted, _ = tables.counted_responses(selectors.survey_responses_frame(survey=survey))
    assert len(counted) == 1


def test_survey_results_take_the_threshold_and_say_it(db):
    survey, arms = make_survey("speed results", [("A", 0), ("B", 1)])
    person = Participant.objects.create(survey=survey)
    for rt in (300, 400, 2000, 2500):
        answer(person, arms["A"], arms["B"], "left", reaction_time_ms=rt)
    assert tables.survey_results(survey=survey).table.loc[0, "n"] == 4
    results = tables.survey_results(survey=survey, min_reaction_ms=350)
    assert results.table.loc[0, "n"] == 3
    assert results.summary["min_reaction_ms"] == 350
    assert any(e.rule == tables.rule_fast_answers(350) and e.responses == 1 for e in results.summary["exclusions"])


# --- Exposure curves --------------------------------------------------------------------------------

# Per exposure: (real wins, trials) of a real-vs-GAN pairwise timed survey; the real image wins more
# often the longer people look, as in the CRN timed study.
REAL_WINS = {125: (5, 10), 250: (6, 10), 500: (8, 10), 1000: (9, 10), 2000: (10, 10)}


@pytest.fixture
def timed_pairwise(db):
    survey, arms = make_survey("crn timed", [("photos", 0), ("gan", 1)])
    _make_real(arms["photos"])
    survey.protocol = {"exposures_ms": sorted(REAL_WINS)}
    survey.save()
    people = [Participant.objects.create(survey=survey) for _ in range(5)]
    real, gan = arms["photos"], arms["gan"]
    for exposure, (wins, n) in REAL_WINS.items():
        for i in range(n):
            left, right = (real, gan) if i % 2 else (gan, real)
            real_won = i < wins
            choice = "left" if (left is real) == real_won else "right"
            _timed_answer(people[i % 5], left, right, choice, exposure_ms=exposure)
    return survey


def test_pairwise_exposure_curve_is_how_often_the_real_image_won_per_exposure(timed_pairwise):
    results = tables.survey_results(survey=timed_pairwise)
    curve = results.exposure_curves
    assert curve["arm"].unique().tolist() == ["gan"]
    assert set(curve["measure"]) == {tables.MEASURE_REAL_PREFERRED}
    assert dict(zip(curve["exposure_ms"], zip(curve["successes"], curve["n"]))) == REAL_WINS
    row = curve[curve["exposure_ms"] == 500].iloc[0]
    assert row.ci_low == pytest.approx(beta.ppf(0.025, 8, 3), abs=1e-9)
    assert row.ci_high == pytest.approx(beta.ppf(0.975, 9, 2), abs=1e-9)


def test_threshold_equals_the_fit_on_the_same_counts(timed_pairwise):
    results = tables.survey_results(survey=timed_pairwise)
    row = results.thresholds.iloc[0]
    exposures = sorted(REAL_WINS)
    direct = stats.psychometric_fit(exposures, [REAL_WINS[t][0] for t in exposures], [REAL_WINS[t][1] for t in exposures])
    assert row.threshold_ms == pytest.approx(direct.threshold_ms, rel=1e-6)
    assert row.slope == pytest.approx(direct.slope, rel=1e-6)
    assert row.threshold_low <= row.threshold_ms <= row.threshold_high
    assert "bootstrap" in results.summary["curve_method"]


def test_an_arm_that_cannot_be_fitted_keeps_its_row_with_the_reason(db):
    survey, arms = make_survey("flat", [("photos", 0), ("gan", 1)])
    _make_real(arms["photos"])
    survey.kind = "real_fake"
    survey.protocol = {"exposures_ms": [250, 1000]}
    survey.save()
    person = Participant.objects.create(survey=survey)
    for exposure in (250, 1000):
        for _ in range(4):
            _judge(person, arms["photos"], "real", exposure_ms=exposure)  # always right: no threshold to find
            _judge(person, arms["gan"], "generated", exposure_ms=exposure)
        _judge(person, arms["gan"], "real", exposure_ms=exposure)
    results = tables.survey_results(survey=survey)
    thresholds = results.thresholds.set_index("arm")
    assert math.isnan(thresholds.loc["photos", "threshold_ms"])
    assert "every trial succeeded" in thresholds.loc["photos", "note"]
    curve = results.exposure_curves.set_index(["arm", "exposure_ms"])
    assert (curve.loc[("gan", 250.0), "successes"], curve.loc[("gan", 250.0), "n"]) == (4, 5)
    assert curve.loc[("gan", 250.0), "measure"] == tables.MEASURE_ACCURACY


def test_untimed_surveys_have_no_curves(db):
    survey, arms = make_survey("untimed", [("A", 0), ("B", 1)])
    answer(Participant.objects.create(survey=survey), arms["A"], arms["B"], "left", reaction_time_ms=900)
    results = tables.survey_results(survey=survey)
    assert results.exposure_curves is None and results.thresholds is None


# --- HYPE scores --------------------------------------------------------------------------------------


def test_hype_infinity_per_generated_arm_counts_its_images_and_the_reals(db):
    survey, arms = make_survey("hype inf", [("photos", 0), ("gan", 1), ("vae", 2)])
    _make_real(arms["photos"])
    survey.kind = "real_fake"
    survey.save()
    people = [Participant.objects.create(survey=survey) for _ in range(3)]
    verdicts = {"photos": ["real", "real", "generated"], "gan": ["real", "generated", "generated"],
                "vae": ["generated", "generated", "generated"]}
    for arm, choices in verdicts.items():
        for person, choice in zip(people, choices):
            _judge(person, arms[arm], choice)
    hype = tables.survey_results(survey=survey).hype.set_index("arm")
    # gan: one real judged generated + one gan judged real = 2 wrong of 6; vae: 1 wrong of 6.
    assert hype.loc["gan", "value"] == pytest.approx(2 / 6)
    assert hype.loc["vae", "value"] == pytest.approx(1 / 6)
    assert set(hype["score"]) == {tables.HYPE_INFINITY}
    assert hype.loc["gan", "n"] == 6 and hype.loc["gan", "participants"] == 3


def test_hype_time_is_the_mean_of_each_participants_modal_exposure(db):
    survey, arms = make_survey("hype time", [("photos", 0), ("gan", 1)])
    _make_real(arms["photos"])
    survey.kind = "real_fake"
    survey.protocol = {"staircase": {}}
    survey.save()
    first, second = Participant.objects.create(survey=survey), Participant.objects.create(survey=survey)
    for exposure in (500, 470, 470, 440):  # mode 470
        _judge(first, arms["gan"], "generated", exposure_ms=exposure)
    for exposure in (500, 530, 530, 530):  # mode 530
        _judge(second, arms["photos"], "generated", exposure_ms=exposure)
    results = tables.survey_results(survey=survey)
    row = results.hype[results.hype["score"] == tables.HYPE_TIME].iloc[0]
    assert (row.arm, row.value, row.unit, row.participants) == ("gan", 500.0, "ms", 2)
    assert "HYPE_time" in results.summary["hype_methods"][tables.HYPE_TIME]


# --- Equal iterations / equal training time ----------------------------------------------------------


def test_matched_table_groups_arms_like_the_dcgan_family_study(db):
    survey, arms = make_survey("matched", [("multistage 2k", 0), ("dcgan+srcnn 2k", 1), ("dcgan+srcnn 5k", 2)])
    provenance = {"multistage 2k": ("multistage", 2000, 1.00), "dcgan+srcnn 2k": ("dcgan+srcnn", 2000, 0.40),
                  "dcgan+srcnn 5k": ("dcgan+srcnn", 5000, 1.05)}
    for label, (family, iteration, hours) in provenance.items():
        ImagePool.objects.filter(pk=arms[label].pool_id).update(
            model_family=family, iteration=iteration, training_seconds=hours * 3600)
    person = Participant.objects.create(survey=survey)
    a, b, c = arms["multistage 2k"], arms["dcgan+srcnn 2k"], arms["dcgan+srcnn 5k"]
    for chosen in ("left", "left", "left", "right"):
        answer(person, a, b, chosen, reaction_time_ms=900)  # multistage preferred 3 of 4 over dcgan 2k
    for chosen in ("left", "right"):
        answer(person, a, c, chosen, reaction_time_ms=900)

    matched = tables.survey_results(survey=survey).matched

    iterations = matched[matched["comparison"] == tables.EQUAL_ITERATIONS]
    assert iterations["arm"].tolist() == ["multistage 2k", "dcgan+srcnn 2k"]
    assert set(iterations["group"]) == {"2,000 iterations"}
    assert iterations.set_index("arm").loc["multistage 2k", "rate"] == pytest.approx(4 / 6)
    assert iterations.set_index("arm").loc["dcgan+srcnn 2k", "rate"] == pytest.approx(1 / 4)
    time = matched[matched["comparison"] == tables.EQUAL_TRAINING_TIME]
    assert time["arm"].tolist() == ["multistage 2k", "dcgan+srcnn 5k"]  # 1.00 h and 1.05 h: within 10 %
    assert time["iterations"].tolist() == [2000, 5000]
    assert time["group"].iloc[0] == "≈ 1.02 h"


def test_arms_without_provenance_or_without_a_partner_form_no_group(db):
    survey, arms = make_survey("lonely", [("A", 0), ("B", 1)])
    ImagePool.objects.filter(pk=arms["A"].pool_id).update(iteration=1000, training_seconds=3600)
    ImagePool.objects.filter(pk=arms["B"].pool_id).update(iteration=3000, training_seconds=7200)
    answer(Participant.objects.create(survey=survey), arms["A"], arms["B"], "left", reaction_time_ms=900)
    assert tables.survey_results(survey=survey).matched.empty


def test_curve_counts_equal_a_direct_count_on_random_answers(db):
    """Random real/fake answers at three exposures: every curve point equals a count done with numpy."""
    survey, arms = make_survey("random curve", [("photos", 0), ("gan", 1)])
    _make_real(arms["photos"])
    survey.kind = "real_fake"
    survey.protocol = {"exposures_ms": [100, 400, 1600]}
    survey.save()
    rng = np.random.default_rng(7)
    people = [Participant.objects.create(survey=survey) for _ in range(4)]
    expected: dict[tuple[str, float], list[int]] = {}
    for _ in range(120):
        label = str(rng.choice(["photos", "gan"]))
        exposure = int(rng.choice([100, 400, 1600]))
        choice = str(rng.choice(["real", "generated"]))
        _judge(people[int(rng.integers(4))], arms[label], choice, exposure_ms=exposure)
        right = choice == ("real" if label == "photos" else "generated")
        expected.setdefault((label, float(exposure)), []).append(int(right))
    curve = tables.survey_results(survey=survey).exposure_curves.set_index(["arm", "exposure_ms"])
    for key, outcomes in expected.items():
        assert (curve.loc[key, "successes"], curve.loc[key, "n"]) == (sum(outcomes), len(outcomes))


# --- The minimum reaction time as an option of the page, the exports and the command ----------------


@pytest.fixture
def speedy_survey(researcher):
    survey, arms = make_survey("speedy", [("A", 0), ("B", 1)], created_by=researcher)
    person = Participant.objects.create(survey=survey)
    for rt in (200, 1500, 2500, 3000, 3500, 4000, 4500, 5000):  # a quarter fast at 1600 ms: not clicking through
        answer(person, arms["A"], arms["B"], "left", reaction_time_ms=rt)
    return survey


def test_results_page_recounts_with_the_minimum_and_its_toggles_keep_it(researcher_client, speedy_survey):
    from django.urls import reverse

    url = reverse("analysis:survey_results", args=[speedy_survey.pk])
    default = researcher_client.get(url)
    assert default.context["summary"]["responses_counted"] == 7  # the 200 ms answer is too fast
    stricter = researcher_client.get(url, {"min_reaction_ms": "1600"})
    assert stricter.context["summary"]["responses_counted"] == 6
    html = stricter.content.decode()
    assert 'value="1600"' in html
    assert "include_invalid=1" in stricter.context["query_invalid_toggle"]
    assert "min_reaction_ms=1600" in stricter.context["query_invalid_toggle"]
    assert "min_reaction_ms=1600" in stricter.context["query_completed_toggle"]


@pytest.mark.parametrize("value, reason", [("fast", b"must be a number"), ("-5", b"between 0"),
                                           ("100000", b"between 0"), ("nan", b"between 0")])
def test_a_malformed_minimum_is_a_clear_400(researcher_client, speedy_survey, value, reason):
    from django.urls import reverse

    for name in ("analysis:survey_results", "analysis:survey_export"):
        args = [speedy_survey.pk] if name.endswith("results") else [speedy_survey.pk, "manifest"]
        response = researcher_client.get(reverse(name, args=args), {"min_reaction_ms": value})
        assert response.status_code == 400 and reason in response.content


def test_manifest_and_command_carry_the_minimum(speedy_survey, tmp_path):
    import json

    from django.core.management import CommandError, call_command

    from analysis import raw_export

    manifest = raw_export.manifest(speedy_survey, min_reaction_ms=1600)
    assert manifest["table_options"]["min_reaction_ms"] == 1600
    assert manifest["responses_counted"] == 6
    out = tmp_path / "manifest.json"
    call_command("export_results", speedy_survey.slug, "--format", "manifest", "--min-reaction-ms", "0",
                 "--output", str(out))
    assert json.loads(out.read_text())["responses_counted"] == 8
    with pytest.raises(CommandError, match="between 0"):
        call_command("export_results", speedy_survey.slug, "--min-reaction-ms", "-1")


def test_manifest_names_the_ranking_threshold_and_hype_methods(timed_pairwise):
    from analysis import raw_export

    methods = raw_export.manifest(timed_pairwise)["methods"]
    assert methods["ranking"].startswith("Bradley–Terry")
    assert methods["psychometric_threshold"] == tables.survey_results(survey=timed_pairwise).summary["curve_method"]
    assert "bootstrap" in methods["psychometric_threshold"]
    assert methods["hype"] is None  # a pairwise survey has no HYPE score
