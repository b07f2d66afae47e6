"""The general planner (surveys.design.survey_plan): phases, cells, sides, blocks, attention checks, images."""
import itertools
from collections import Counter

import pytest

from surveys.design import PlanArm, main_trial_count, pairwise_plan, side_balance, survey_plan
from surveys.protocol import PRESETS, Protocol, ProtocolError, Staircase

SEEDS = range(12)


def arms(real=1, generated=2, per_arm=400, bad=True, attention_real=False):
    made = [PlanArm(f"real{i}", [f"real{i}-{j}" for j in range(per_arm)], real=True) for i in range(real)]
    made += [PlanArm(f"gen{i}", [f"gen{i}-{j}" for j in range(per_arm)]) for i in range(generated)]
    if bad:
        made.append(PlanArm("bad", [f"bad-{j}" for j in range(per_arm)], role="attention_bad"))
    if attention_real:
        made.append(PlanArm("sentinel-real", [f"sentinel-{j}" for j in range(per_arm)], real=True, role="attention_real"))
    return made


def plan(protocol=Protocol(), kind="pairwise", trials=None, arm_list=None, seed=0):
    arm_list = arm_list if arm_list is not None else arms()
    trials = trials or main_trial_count(protocol=protocol, kind=kind, arms=arm_list) or 12
    return survey_plan(protocol=protocol, kind=kind, trials=trials, arms=arm_list, seed=seed)


def of_phase(planned, *phases):
    return [trial for trial in planned if trial.phase in phases]


def pair_of(trial):
    return tuple(sorted((trial.left_arm, trial.right_arm)))


def spread(counter_values) -> int:
    values = list(counter_values)
    return max(values) - min(values)


# --- Every preset ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_plans_its_phases_in_order_with_the_right_counts(name):
    preset = PRESETS[name]
    protocol = preset.protocol
    if preset.kind == "real_fake":  # exercise the optional phases too
        protocol = protocol.replace(qualification_trials=10, practice_trials=4, attention_checks=3)
    arm_list = arms()
    trials = main_trial_count(protocol=protocol, kind=preset.kind, arms=arm_list) or preset.trials
    planned = survey_plan(protocol=protocol, kind=preset.kind, trials=trials, arms=arm_list, seed=7)
    counts = Counter(trial.phase for trial in planned)
    assert counts["training"] == protocol.training_examples
    assert counts["qualification"] == protocol.qualification_trials
    assert counts["practice"] == protocol.practice_trials
    assert counts["main"] == trials
    assert counts["attention"] == protocol.attention_checks
    order = ["training", "qualification", "practice", "main"]
    ranks = [order.index("main" if trial.phase == "attention" else trial.phase) for trial in planned]
    assert ranks == sorted(ranks)
    assert [trial.position for trial in planned] == list(range(len(planned)))


def test_crn_timed_gives_every_comparison_at_every_exposure_exactly_five_times():
    protocol = PRESETS["crn-timed"].protocol
    arm_list = arms(real=1, generated=2)
    assert main_trial_count(protocol=protocol, kind="pairwise", arms=arm_list) == 3 * 7 * 5
    for seed in SEEDS:
        main = of_phase(plan(protocol, arm_list=arm_list, seed=seed), "main")
        cells = Counter((pair_of(trial), trial.exposure_ms) for trial in main)
        assert len(cells) == 3 * 7 and set(cells.values()) == {5}


def test_trials_per_cell_must_match_the_main_trial_count():
    protocol = Protocol(exposures_ms=(100, 200), trials_per_cell=2)
    with pytest.raises(ValueError, match="makes 12 main trials, not 13"):
        plan(protocol, trials=13)


# --- Pairwise cells and sides ---------------------------------------------------------------------


@pytest.mark.parametrize("exposures", [(), (250,), (125, 500, 2000)])
@pytest.mark.parametrize("n", [1, 5, 9, 20, 37])
def test_pairwise_cells_exposures_and_sides_are_balanced(exposures, n):
    protocol = Protocol(exposures_ms=exposures)
    pairs_total, exposure_total = 3, max(1, len(exposures))
    cells_total = pairs_total * exposure_total
    for seed in SEEDS:
        main = of_phase(plan(protocol, trials=n, seed=seed), "main")
        cells = Counter((pair_of(trial), trial.exposure_ms) for trial in main)
        all_cells = [cells.get(cell, 0) for cell in itertools.product(
            itertools.combinations(["gen0", "gen1", "real0"], 2), exposures or (None,))]
        assert len(all_cells) == cells_total
        assert min(all_cells) == n // cells_total and max(all_cells) == -(-n // cells_total)
        assert spread(Counter(trial.exposure_ms for trial in main).values() if n >= exposure_total else [0]) <= 1
        for left, right in side_balance(main).values():
            assert abs(left - right) <= 1
        for comparison in {pair_of(trial) for trial in main}:
            lefts = Counter(trial.left_arm for trial in main if pair_of(trial) == comparison)
            assert abs(lefts[comparison[0]] - lefts[comparison[1]]) <= 1


def test_sides_alternate_within_each_exposure_cell():
    protocol = Protocol(exposures_ms=(125, 500), trials_per_cell=4)
    for seed in SEEDS:
        main = of_phase(plan(protocol, seed=seed), "main")
        by_cell = Counter((pair_of(trial), trial.exposure_ms, trial.left_arm) for trial in main)
        assert set(by_cell.values()) == {2}


@pytest.mark.parametrize("pairs, expected", [
    ("all", {("gen0", "gen1"), ("gen0", "real0"), ("gen1", "real0")}),
    ("vs_real", {("gen0", "real0"), ("gen1", "real0")}),
    ("vs_first", {("gen0", "real0"), ("gen1", "real0")}),  # real0 is the first arm given
])
def test_pairs_chooses_the_comparisons(pairs, expected):
    main = of_phase(plan(Protocol(pairs=pairs), trials=30), "main")
    assert {pair_of(trial) for trial in main} == expected


def test_vs_first_compares_the_first_arm_even_when_it_is_generated():
    arm_list = [PlanArm("gen-a", ["a"]), PlanArm("gen-b", ["b"]), PlanArm("gen-c", ["c"])]
    main = plan(Protocol(pairs="vs_first"), trials=10, arm_list=arm_list)
    assert {pair_of(trial) for trial in main} == {("gen-a", "gen-b"), ("gen-a", "gen-c")}


@pytest.mark.parametrize("choose", ["real", "fake"])
def test_expected_choice_is_the_side_of_the_real_or_of_the_fake_image(choose):
    for trial in of_phase(plan(Protocol(choose=choose), trials=30), "main"):
        if "real0" not in (trial.left_arm, trial.right_arm):
            assert trial.expected_choice == ""  # generated vs generated: a preference
            continue
        real_side = "left" if trial.left_arm == "real0" else "right"
        fake_side = "right" if real_side == "left" else "left"
        assert trial.expected_choice == (real_side if choose == "real" else fake_side)


def test_the_plain_case_is_pairwise_plan():
    """pairwise_plan knows nothing of realness, so the arms here are all generated."""
    arm_list = arms(real=0, generated=4, bad=False)
    images = {arm.key: arm.images for arm in arm_list}
    for seed in SEEDS:
        assert survey_plan(protocol=Protocol(), kind="pairwise", trials=17, arms=arm_list, seed=seed) == pairwise_plan(
            images, 17, seed)


# --- Real or fake ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction, n", [(0.5, 100), (0.5, 7), (0.3, 50), (0.75, 13)])
def test_real_fraction_of_main_trials_is_real_split_evenly_over_arms(fraction, n):
    arm_list = arms(real=2, generated=3)
    for seed in SEEDS:
        main = of_phase(plan(Protocol(real_fraction=fraction), "real_fake", n, arm_list, seed), "main")
        per_arm = Counter(trial.left_arm for trial in main)
        real = per_arm["real0"] + per_arm["real1"]
        assert real == int(n * fraction + 0.5)
        assert abs(per_arm["real0"] - per_arm["real1"]) <= 1
        assert spread(per_arm[f"gen{i}"] for i in range(3)) <= 1
        for trial in main:
            assert trial.right_arm is None and trial.right_image is None
            assert trial.expected_choice == ("real" if trial.left_arm.startswith("real") else "generated")


def test_real_fake_exposures_spread_evenly_within_each_arm():
    protocol = Protocol(exposures_ms=(100, 250, 1000))
    for seed in SEEDS:
        main = of_phase(plan(protocol, "real_fake", 40, seed=seed), "main")
        for arm in ("real0", "gen0", "gen1"):
            assert spread(Counter(t.exposure_ms for t in main if t.left_arm == arm).values()) <= 1
        assert spread(Counter(t.exposure_ms for t in main).values()) <= 1


def test_real_fake_trials_per_cell_gives_each_arm_and_exposure_that_many():
    protocol = Protocol(exposures_ms=(100, 1000), trials_per_cell=3)
    main = of_phase(plan(protocol, "real_fake"), "main")
    assert len(main) == 3 * 2 * 3
    assert set(Counter((t.left_arm, t.exposure_ms) for t in main).values()) == {3}


def test_staircase_main_trials_are_adaptive_practice_starts_at_start_and_checks_are_fixed():
    protocol = Protocol(staircase=Staircase(start_ms=400), practice_trials=6, attention_checks=4)
    planned = plan(protocol, "real_fake", 30)
    assert {t.exposure_ms for t in of_phase(planned, "main")} == {None}
    assert {t.exposure_ms for t in of_phase(planned, "practice")} == {400}
    assert {t.exposure_ms for t in of_phase(planned, "attention")} == {protocol.attention_exposure()} == {1000}


def test_training_and_qualification_are_half_real_untimed():
    protocol = Protocol(training_examples=20, qualification_trials=11, exposures_ms=(500,))
    for seed in SEEDS:
        planned = plan(protocol, "real_fake", 10, seed=seed)
        training = of_phase(planned, "training")
        assert {t.expected_choice for t in training} == {"seen"}
        assert {t.exposure_ms for t in training} == {None}
        assert sum(t.left_arm.startswith("real") for t in training) == 10
        qualification = of_phase(planned, "qualification")
        assert {t.exposure_ms for t in qualification} == {None}
        real = [t for t in qualification if t.left_arm.startswith("real")]
        assert len(real) in (5, 6) and {t.expected_choice for t in real} == {"real"}
        assert {t.expected_choice for t in qualification if t not in real} == {"generated"}


def test_practice_is_like_the_main_trials():
    protocol = Protocol(exposures_ms=(250, 1000), practice_trials=8, pairs="vs_real", choose="fake")
    practice = of_phase(plan(protocol, trials=20), "practice")
    assert Counter(t.exposure_ms for t in practice) == {250: 4, 1000: 4}
    assert all("real0" in (t.left_arm, t.right_arm) for t in practice)
    assert all(t.expected_choice == ("right" if t.left_arm == "real0" else "left") for t in practice)


# --- Blocks and attention checks ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["pairwise", "real_fake"])
@pytest.mark.parametrize("blocks, checks, n", [(1, 10, 100), (3, 7, 31), (4, 2, 9), (2, 9, 3)])
def test_attention_checks_are_spread_over_blocks_and_never_first(kind, blocks, checks, n):
    protocol = Protocol(blocks=blocks, attention_checks=checks, exposures_ms=(250, 1000))
    for seed in SEEDS:
        test = of_phase(plan(protocol, kind, n, seed=seed), "main", "attention")
        assert [t.block for t in test] == sorted(t.block for t in test)
        main_sizes = Counter(t.block for t in test if t.phase == "main")
        assert sorted(main_sizes) == list(range(blocks)) and spread(main_sizes.values()) <= 1
        check_counts = Counter(t.block for t in test if t.phase == "attention")
        assert spread(check_counts.get(b, 0) for b in range(blocks)) <= 1
        firsts = [next(t for t in test if t.block == b) for b in range(blocks)]
        assert all(first.phase == "main" for first in firsts)
        for check in of_phase(test, "attention"):
            assert check.exposure_ms == 1000  # the longest exposure, since attention_exposure_ms is unset


def test_attention_checks_land_at_different_places_for_different_seeds():
    protocol = Protocol(attention_checks=5)
    places = {tuple(t.position for t in plan(protocol, trials=40, seed=seed) if t.phase == "attention") for seed in SEEDS}
    assert len(places) == len(SEEDS)


@pytest.mark.parametrize("choose", ["real", "fake"])
def test_pairwise_attention_sets_a_real_image_against_a_bad_one(choose):
    protocol = Protocol(attention_checks=9, attention_exposure_ms=4000, exposures_ms=(125,), choose=choose)
    checks = of_phase(plan(protocol, trials=20), "attention")
    assert len(checks) == 9
    for check in checks:
        assert {check.left_arm, check.right_arm} == {"real0", "bad"}
        assert check.exposure_ms == 4000
        real_side = "left" if check.left_arm == "real0" else "right"
        bad_side = "right" if real_side == "left" else "left"
        assert check.expected_choice == (real_side if choose == "real" else bad_side)
    lefts = Counter(check.left_arm for check in checks)
    assert abs(lefts["real0"] - lefts["bad"]) <= 1


def test_pairwise_attention_uses_the_attention_real_arm_when_no_compared_arm_is_real():
    arm_list = arms(real=0, generated=2, attention_real=True)
    checks = of_phase(plan(Protocol(attention_checks=4), trials=10, arm_list=arm_list), "attention")
    assert all({c.left_arm, c.right_arm} == {"sentinel-real", "bad"} for c in checks)


def test_real_fake_attention_shows_one_bad_image_expected_generated():
    checks = of_phase(plan(Protocol(attention_checks=6), "real_fake", 20), "attention")
    assert len(checks) == 6
    assert all(c.left_arm == "bad" and c.right_arm is None and c.expected_choice == "generated" for c in checks)


def test_blocks_get_a_fair_share_of_every_cell():
    protocol = Protocol(blocks=3, staircase=Staircase())
    for seed in SEEDS:
        main = of_phase(plan(protocol, "real_fake", 150, arms(real=1, generated=1), seed), "main")
        real_per_block = Counter(t.block for t in main if t.expected_choice == "real")
        assert set(real_per_block.values()) == {25}


# --- Images ---------------------------------------------------------------------------------------


def test_images_are_not_reused_across_phases_while_the_pool_lasts():
    protocol = Protocol(training_examples=10, qualification_trials=10, practice_trials=10, attention_checks=5)
    arm_list = arms(real=1, generated=1, per_arm=60)
    for seed in SEEDS:
        planned = plan(protocol, "real_fake", 60, arm_list, seed)  # 30+5+5+5 images of each arm: fewer than 60
        shown = Counter(t.left_image for t in planned)
        assert max(shown.values()) == 1
        assert all(t.left_image.startswith(t.left_arm) for t in planned)


def test_images_cycle_once_the_pool_is_exhausted():
    arm_list = arms(real=1, generated=1, per_arm=5, bad=False)
    planned = plan(Protocol(practice_trials=10), "real_fake", 10, arm_list)  # 10 images of each arm from 5
    for arm in ("real0", "gen0"):
        shown = [t.left_image for t in planned if t.left_arm == arm]
        assert sorted(shown[:5]) == sorted(shown[5:]) == sorted(f"{arm}-{j}" for j in range(5))


def test_pairwise_images_come_from_their_own_arm():
    for trial in plan(Protocol(attention_checks=4, practice_trials=3), trials=20):
        assert trial.left_image.startswith(trial.left_arm.replace("bad", "bad-"))
        assert trial.right_image.startswith(trial.right_arm.replace("bad", "bad-"))


# --- Determinism and errors -----------------------------------------------------------------------


def test_same_seed_same_plan_other_seed_other_plan():
    protocol = PRESETS["crn-timed"].protocol.replace(practice_trials=5, blocks=2)
    assert plan(protocol, seed=3) == plan(protocol, seed=3)
    assert plan(protocol, seed=3) != plan(protocol, seed=4)


@pytest.mark.parametrize("protocol, kind, arm_list, message", [
    (Protocol(pairs="vs_real"), "pairwise", arms(real=0, generated=3), "vs_real needs at least one real"),
    (Protocol(), "real_fake", arms(real=0, generated=2), "at least one real and one generated"),
    (Protocol(), "real_fake", arms(real=2, generated=0), "at least one real and one generated"),
    (Protocol(attention_checks=3), "pairwise", arms(bad=False), "attention_bad arm"),
    (Protocol(attention_checks=3), "pairwise", arms(real=0, generated=2), "need real images"),
    (Protocol(training_examples=4), "pairwise", arms(), "training examples need the real_fake kind"),
    (Protocol(), "pairwise", arms(real=0, generated=1), "at least two arms"),
    (Protocol(), "ranking", arms(), "kind must be one of"),
    (Protocol(attention_checks=2), "real_fake", arms()[:-1] + [PlanArm("bad", [], role="attention_bad")], "without images"),
])
def test_impossible_designs_are_refused_with_a_reason(protocol, kind, arm_list, message):
    with pytest.raises(ValueError, match=message):
        survey_plan(protocol=protocol, kind=kind, trials=12, arms=arm_list, seed=1)


def test_protocol_errors_are_value_errors_naming_the_field():
    with pytest.raises(ProtocolError, match="blocks"):
        plan(Protocol(blocks=5), trials=4)
