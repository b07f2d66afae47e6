"""The trial plan's balance guarantees, checked over many arm counts, trial counts and seeds."""
import math
import random

import pytest

from surveys.design import pair_counts, pairwise_plan, side_balance


def _images(k: int, per_arm: int = 5):
    return {f"arm{a}": [f"arm{a}-img{i}" for i in range(per_arm)] for a in range(k)}


@pytest.mark.parametrize("k", [2, 3, 4, 5, 7])
@pytest.mark.parametrize("n", [1, 2, 5, 8, 13, 21, 50, 101])
def test_pairs_appear_equally_often_and_sides_balance(k, n):
    pairs_total = k * (k - 1) // 2
    for seed in range(20):
        plan = pairwise_plan(_images(k), n, seed)
        assert len(plan) == n
        assert [t.position for t in plan] == list(range(n))
        counts = pair_counts(plan)
        all_pairs_counts = [counts.get(frozenset((f"arm{a}", f"arm{b}")), 0) for a in range(k) for b in range(a + 1, k)]
        assert len(all_pairs_counts) == pairs_total
        assert max(all_pairs_counts) - min(all_pairs_counts) <= 1
        assert min(all_pairs_counts) == n // pairs_total
        for arm, (left, right) in side_balance(plan).items():
            assert abs(left - right) <= 1, (arm, left, right)
            assert abs(left - (left + right) / 2) <= 1


def test_every_trial_compares_two_different_arms_with_their_own_images():
    images = _images(4)
    for trial in pairwise_plan(images, 30, seed=3):
        assert trial.left_arm != trial.right_arm
        assert trial.left_image in images[trial.left_arm]
        assert trial.right_image in images[trial.right_arm]


def test_images_are_drawn_without_replacement_until_the_pool_is_exhausted():
    images = _images(2, per_arm=7)
    plan = pairwise_plan(images, 14, seed=11)  # each arm appears 14 times: two full passes
    for arm in images:
        shown = [t.left_image if t.left_arm == arm else t.right_image for t in plan]
        assert sorted(shown[:7]) == sorted(images[arm])
        assert sorted(shown[7:]) == sorted(images[arm])


def test_same_seed_same_plan_other_seed_other_plan():
    images = _images(3)
    assert pairwise_plan(images, 24, seed=5) == pairwise_plan(images, 24, seed=5)
    assert pairwise_plan(images, 24, seed=5) != pairwise_plan(images, 24, seed=6)


def test_order_and_sides_are_randomised_across_seeds():
    """Over many participants each arm starts on the left about half the time (not a fixed pattern)."""
    images = _images(2)
    first_left = [pairwise_plan(images, 8, seed)[0].left_arm for seed in range(400)]
    share = first_left.count("arm0") / len(first_left)
    # Binomial(400, 0.5): 5 standard deviations is 0.125 either side.
    assert abs(share - 0.5) < 0.125


def test_random_odd_designs_stay_balanced():
    rng = random.Random(2024)
    for _ in range(300):
        k = rng.randint(2, 9)
        n = rng.randint(1, 3 * math.comb(k, 2) + 7)
        plan = pairwise_plan(_images(k, per_arm=3), n, rng.randrange(2**62))
        assert all(abs(left - right) <= 1 for left, right in side_balance(plan).values())


@pytest.mark.parametrize(
    "images, n, message",
    [({"a": [1]}, 4, "at least two arms"), ({"a": [1], "b": [2]}, 0, "at least one trial"), ({"a": [1], "b": []}, 4, "without images")],
)
def test_bad_designs_are_refused(images, n, message):
    with pytest.raises(ValueError, match=message):
        pairwise_plan(images, n, seed=1)
