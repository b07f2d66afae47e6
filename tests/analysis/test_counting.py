"""Which answers a table counts (phases, exclusions, timing validity), 'which is fake?' surveys, and
real/fake tables: each checked against answers written straight through the ORM."""
import math

import pandas as pd
import pytest
from scipy.stats import binomtest

from analysis import exports, selectors, tables
from generation.models import ImagePool
from surveys.models import Participant, Response, Trial
from tests.analysis.conftest import answer, make_survey

pytestmark = pytest.mark.django_db


def test_each_rule_reports_what_it_removed_in_order(db):
    survey, arms = make_survey("rules", [("A", 0), ("B", 1)])
    kept = Participant.objects.create(survey=survey)
    excluded = Participant.objects.create(survey=survey, exclusion_reason="failed 3 of 5 attention checks")
    a, b = arms["A"], arms["B"]
    answer(kept, a, b, "left")                      # counted
    answer(kept, a, b, "left", valid=False)         # invalid timing
    practice = answer(kept, a, b, "right")          # a practice trial: not a measurement
    Trial.objects.filter(pk=practice.trial_id).update(phase=Trial.Phase.PRACTICE)
    answer(excluded, a, b, "right")                 # excluded participant
    answer(excluded, a, b, "right", valid=False)    # excluded participant (the earlier rule takes it)
    frame = selectors.survey_responses_frame(survey=survey)

    counted, exclusions = tables.counted_responses(frame)

    assert counted["response_id"].tolist() == [frame["response_id"].iloc[0]]
    assert [(e.rule, e.responses, e.participants) for e in exclusions] == [
        (tables.RULE_NOT_MEASURED, 1, 1), (tables.RULE_EXCLUDED, 2, 1),
        (tables.rule_fast_participants(250, 0.25), 0, 0), (tables.rule_fast_answers(250), 0, 0),
        (tables.RULE_INVALID, 1, 1),
    ]
    with_invalid, _ = tables.counted_responses(frame, include_invalid=True)
    assert len(with_invalid) == 2


def test_results_leave_out_invalid_trials_unless_asked(db):
    survey, arms = make_survey("validity", [("A", 0), ("B", 1)])
    person = Participant.objects.create(survey=survey)
    for valid in (True, True, False):
        answer(person, arms["A"], arms["B"], "left", valid=valid)
    default = tables.survey_results(survey=survey)
    assert default.table.loc[0, "n"] == 2
    assert tables.survey_results(survey=survey, include_invalid=True).table.loc[0, "n"] == 3
    assert "1 response from 1 participant — trials with invalid timing" in " ".join(exports.exclusion_sentences(default.summary))


def test_a_which_is_fake_survey_counts_the_image_not_picked_as_preferred(db):
    survey, arms = make_survey("fake question", [("real", 0), ("gan", 1)])
    survey.protocol = {"choose": "fake"}
    survey.save()
    person = Participant.objects.create(survey=survey)
    # Three times the GAN image was picked as the fake one, once the real one was.
    for left, right, choice in [("real", "gan", "right"), ("gan", "real", "left"), ("gan", "real", "left"),
                                ("real", "gan", "left")]:
        answer(person, arms[left], arms[right], choice)
    results = tables.survey_results(survey=survey)
    row = results.table.iloc[0]
    assert (row.arm_a, row.n, row.wins_a) == ("real", 4, 3)
    assert "which image is fake" in exports.method_sentence(results.summary)


def _judge(participant, arm, choice: str, exposure_ms=None) -> Response:
    trial = Trial.objects.create(
        participant=participant, position=participant.trials.count(), left_arm=arm,
        left_image=arm.pool.images.first(), exposure_ms=exposure_ms,
        expected_choice="real" if arm.pool.kind == ImagePool.Kind.REAL else "generated",
    )
    return Response.objects.create(trial=trial, choice=choice, correct=choice == trial.expected_choice)


@pytest.fixture
def real_fake_survey(researcher):
    survey, arms = make_survey("vtt", [("photos", 0), ("refined", 1)], created_by=researcher)
    ImagePool.objects.filter(pk=arms["photos"].pool_id).update(kind=ImagePool.Kind.REAL)
    survey.kind = "real_fake"
    survey.protocol = {"exposures_ms": [250, 1000]}
    survey.save()
    person = Participant.objects.create(survey=survey)
    photos, refined = (survey.arms.get(label=label) for label in ("photos", "refined"))
    for arm, exposure, verdicts in [
        (photos, 250, ["real", "real", "generated"]), (photos, 1000, ["real", "real"]),
        (refined, 250, ["real", "real", "generated", "real"]), (refined, 1000, ["generated", "generated"]),
    ]:
        for verdict in verdicts:
            _judge(person, arm, verdict, exposure)
    return survey


def test_real_fake_table_per_arm_and_exposure_matches_the_verdicts(real_fake_survey):
    table = tables.survey_results(survey=real_fake_survey).table
    rows = {(row.arm, row.exposure_ms): row for row in table.itertuples()}
    photos_250, refined_250 = rows[("photos", 250.0)], rows[("refined", 250.0)]
    assert (photos_250.images, photos_250.n, photos_250.judged_real, photos_250.correct) == ("real", 3, 2, 2)
    # For generated images, judged real is the fool rate and correct is the rest.
    assert (refined_250.images, refined_250.n, refined_250.judged_real, refined_250.correct) == ("generated", 4, 3, 1)
    assert refined_250.judged_real_rate == 0.75 and refined_250.accuracy == 0.25
    exact = binomtest(3, 4).proportion_ci(method="exact")
    assert refined_250.ci_low == pytest.approx(exact.low) and refined_250.ci_high == pytest.approx(exact.high)
    assert rows[("refined", 1000.0)].accuracy == 1.0
    # Error rates on real and on generated images, separately; p is one-sided, on accuracy above chance.
    assert photos_250.error_rate == pytest.approx(1 / 3) and refined_250.error_rate == 0.75
    assert photos_250.p_above_chance == pytest.approx(binomtest(2, 3, alternative="greater").pvalue)


def test_real_fake_results_page_shows_the_table(real_fake_survey, researcher_client):
    page = researcher_client.get(f"/r/surveys/{real_fake_survey.pk}/results/").content.decode()
    assert "Judged real, per arm" in page and "250 ms" in page and "75.0 %" in page
    markdown = researcher_client.get(f"/r/surveys/{real_fake_survey.pk}/export.md").content.decode()
    assert "| refined | generated | 250 ms | 4 | 3 | 75.0 % |" in markdown
    assert "one-sided" in markdown


def test_pairwise_table_by_exposure_keeps_every_pair_at_every_exposure():
    arms = [pd.Series({"id": i, "label": label, "position": i}) for i, label in enumerate("ABC")]
    arms = [type("Arm", (), dict(row)) for row in arms]
    frame = pd.DataFrame({
        "left_arm_id": [0, 1, 0], "right_arm_id": [1, 0, 2], "preferred_arm_id": [0, 0, 2],
        "exposure_ms": [125.0, 125.0, 8000.0],
    })
    table = tables.pairwise_table_by_exposure(frame, arms)
    assert table["exposure_ms"].tolist() == [125.0] * 3 + [8000.0] * 3
    at_125 = table[(table.exposure_ms == 125.0) & (table.arm_a == "A") & (table.arm_b == "B")].iloc[0]
    assert (at_125.n, at_125.wins_a) == (2, 2)
    assert math.isnan(table[(table.exposure_ms == 8000.0) & (table.arm_b == "B")].iloc[0].p_value)


def test_arms_table_reads_like_the_dcgan_study_with_provenance_and_pooled_rates(db):
    survey, arms = make_survey("provenance", [("real", 0), ("dcgan", 1), ("multi-stage", 2)])
    ImagePool.objects.filter(pk=arms["real"].pool_id).update(kind=ImagePool.Kind.REAL)
    ImagePool.objects.filter(pk=arms["dcgan"].pool_id).update(
        kind=ImagePool.Kind.GENERATED, model_family="dcgan", iteration=3000, training_seconds=2 * 3600)
    person = Participant.objects.create(survey=survey)
    for left, right, choice in [("real", "dcgan", "left"), ("dcgan", "real", "left"), ("dcgan", "multi-stage", "right"),
                                ("multi-stage", "real", "right")]:
        answer(person, arms[left], arms[right], choice)
    results = tables.survey_results(survey=survey)
    rows = {row.arm: row for row in results.arms.itertuples()}
    dcgan = rows["dcgan"]
    assert (dcgan.images, dcgan.model, dcgan.iterations, dcgan.training_hours) == ("generated", "dcgan", 3000, 2.0)
    assert (dcgan.n, dcgan.preferred) == (3, 1)  # shown three times, judged more realistic once
    assert (rows["real"].n, rows["real"].preferred, rows["multi-stage"].preferred) == (3, 2, 1)
    markdown = exports.results_markdown(results)
    assert "| dcgan | generated | dcgan | 3,000 | 2.00 | 3 | 33.3 % |" in markdown


def test_position_bias_counts_left_clicks_against_half(db):
    survey, arms = make_survey("sides", [("A", 0), ("B", 1)])
    person = Participant.objects.create(survey=survey)
    for choice in ["left"] * 9 + ["right"]:
        answer(person, arms["A"], arms["B"], choice)
    bias = tables.survey_results(survey=survey).summary["position_bias"]
    assert (bias.n, bias.left) == (10, 9)
    assert bias.p_value == pytest.approx(binomtest(9, 10).pvalue)
    sentence = exports.position_bias_sentence(tables.survey_results(survey=survey).summary)
    assert "left image was chosen in 9 of 10 answers" in sentence


def test_ranking_puts_arms_in_their_simulated_order_relative_to_the_real_one(db):
    import numpy as np

    survey, arms = make_survey("ranking", [("real", 0), ("good", 1), ("poor", 2)])
    ImagePool.objects.filter(pk=arms["real"].pool_id).update(kind=ImagePool.Kind.REAL)
    strength = {"real": 1.0, "good": 0.3, "poor": -1.0}
    rng = np.random.default_rng(3)
    labels = list(strength)
    for p in range(12):
        person = Participant.objects.create(survey=survey)
        for _ in range(15):
            left, right = rng.choice(labels, 2, replace=False)
            p_left = 1 / (1 + np.exp(strength[right] - strength[left]))
            answer(person, arms[left], arms[right], "left" if rng.random() < p_left else "right")
    results = tables.survey_results(survey=survey)
    ranking = results.ranking
    assert ranking["arm"].tolist() == ["real", "good", "poor"]
    real = ranking[ranking.arm == "real"].iloc[0]
    assert (real.score, real.score_low, real.score_high) == (0.0, 0.0, 0.0)  # the reference arm
    assert (ranking[ranking.arm != "real"].score < 0).all()
    assert "relative to the real arm" in results.summary["ranking_method"]
    assert "### Ranking" in exports.results_markdown(results)
