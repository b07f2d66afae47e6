"""Balanced, seeded pairwise trial plans. Pure Python: no Django.

A plan is a list of trials for one participant. The guarantees, for any number of arms k >= 2
and trials n >= 1:

- every unordered pair of arms appears floor(n / P) or ceil(n / P) times (P = k(k-1)/2);
- every arm appears on the left half of the times it appears, give or take one
  (|left - right| <= 1 for each arm);
- within an arm, images are drawn without replacement, cycling through a shuffled pool, so a
  participant sees an image again only after seeing every other image of that arm;
- the same seed gives the same plan, so a participant's plan can be audited from its seed.
"""
from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Hashable, Mapping, Sequence

Arm = Hashable
Image = Hashable


@dataclass(frozen=True)
class PlannedTrial:
    position: int
    left_arm: Arm
    right_arm: Arm
    left_image: Image
    right_image: Image


def pairwise_plan(
    images_by_arm: Mapping[Arm, Sequence[Image]], n_trials: int, seed: int
) -> list[PlannedTrial]:
    """The trial plan of one participant: balanced pairs and sides, shuffled order, drawn images."""
    arms = list(images_by_arm)
    if len(arms) < 2:
        raise ValueError("a pairwise plan needs at least two arms")
    if n_trials < 1:
        raise ValueError("a plan needs at least one trial")
    empty = [arm for arm in arms if not images_by_arm[arm]]
    if empty:
        raise ValueError(f"arms without images: {empty}")

    rng = random.Random(seed)
    pairs = balanced_pairs(arms, n_trials, rng)
    oriented = balanced_sides(pairs, rng)
    rng.shuffle(oriented)
    draw = {arm: _image_cycle(images_by_arm[arm], rng) for arm in arms}
    return [
        PlannedTrial(position, left, right, next(draw[left]), next(draw[right]))
        for position, (left, right) in enumerate(oriented)
    ]


def balanced_pairs(arms: Sequence[Arm], n_trials: int, rng: random.Random) -> list[tuple[Arm, Arm]]:
    """n_trials unordered pairs, each pair of arms floor(n/P) or ceil(n/P) times.

    The pairs that get one extra appearance are chosen at random, preferring those whose arms
    have appeared least, so that arms also appear about equally often.
    """
    all_pairs = list(itertools.combinations(arms, 2))
    rounds, extra = divmod(n_trials, len(all_pairs))
    pairs = all_pairs * rounds
    appearances = Counter(arm for pair in pairs for arm in pair)
    candidates = all_pairs[:]
    rng.shuffle(candidates)
    for _ in range(extra):
        best = min(candidates, key=lambda pair: appearances[pair[0]] + appearances[pair[1]])
        candidates.remove(best)
        pairs.append(best)
        appearances.update(best)
    return pairs


def balanced_sides(pairs: Sequence[tuple[Arm, Arm]], rng: random.Random) -> list[tuple[Arm, Arm]]:
    """Orient each pair (left, right) so that every arm is on the left half the time, +-1.

    Each pair's repeats alternate sides; each pair left with an odd count contributes one
    "free" edge. Orienting the free edges along Euler circuits (after joining odd-degree
    arms to a dummy vertex) gives every arm as many free edges out as in, +-1.
    """
    by_pair: dict[tuple[Arm, Arm], int] = Counter(pairs)
    oriented: list[tuple[Arm, Arm]] = []
    free_edges: list[tuple[Arm, Arm]] = []
    for (a, b), count in by_pair.items():
        oriented += [(a, b), (b, a)] * (count // 2)
        if count % 2:
            free_edges.append((a, b))
    oriented += _euler_orientation(free_edges, rng)
    return oriented


_DUMMY = object()


def _euler_orientation(edges: list[tuple[Arm, Arm]], rng: random.Random) -> list[tuple[Arm, Arm]]:
    """Orient a simple graph's edges so each vertex has |out - in| <= 1 (Hierholzer's walk)."""
    adjacency: dict[object, list[tuple[object, int]]] = defaultdict(list)
    all_edges = list(edges)
    degree = Counter(v for edge in edges for v in edge)
    all_edges += [(v, _DUMMY) for v, d in degree.items() if d % 2]
    for index, (u, v) in enumerate(all_edges):
        adjacency[u].append((v, index))
        adjacency[v].append((u, index))
    for neighbours in adjacency.values():
        rng.shuffle(neighbours)

    used = [False] * len(all_edges)
    oriented: list[tuple[Arm, Arm]] = []
    for start in list(adjacency):
        stack = [start]
        while stack:
            vertex = stack[-1]
            while adjacency[vertex] and used[adjacency[vertex][-1][1]]:
                adjacency[vertex].pop()
            if not adjacency[vertex]:
                stack.pop()
                continue
            neighbour, index = adjacency[vertex].pop()
            used[index] = True
            if index < len(edges):
                oriented.append((vertex, neighbour))
            stack.append(neighbour)
    return oriented


def _image_cycle(images: Sequence[Image], rng: random.Random):
    """Endless draws without replacement: reshuffle after each pass through the pool."""
    pool = list(images)
    while True:
        rng.shuffle(pool)
        yield from pool


def side_balance(plan: Sequence[PlannedTrial]) -> dict[Arm, tuple[int, int]]:
    """(left, right) appearances of each arm: what the balance guarantee is about."""
    counts: dict[Arm, list[int]] = defaultdict(lambda: [0, 0])
    for trial in plan:
        counts[trial.left_arm][0] += 1
        counts[trial.right_arm][1] += 1
    return {arm: (left, right) for arm, (left, right) in counts.items()}


def pair_counts(plan: Sequence[PlannedTrial]) -> Counter:
    """Appearances of each unordered pair of arms (as a frozenset)."""
    return Counter(frozenset((t.left_arm, t.right_arm)) for t in plan)
