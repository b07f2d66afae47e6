"""Seeded trial plans. Pure Python: no Django.

A plan is the whole ordered sequence of trials of one participant (docs/participant-protocol.md):
training -> qualification -> practice -> main, the main trials split into blocks with attention
checks mixed in. ``survey_plan`` makes it from a Protocol; ``pairwise_plan`` is the plain case
(every pair of arms, unlimited time, main trials only) and keeps its original guarantees, for
any number of arms k >= 2 and trials n >= 1:

- every unordered pair of arms appears floor(n / P) or ceil(n / P) times (P = k(k-1)/2);
- every arm appears on the left half of the times it appears, give or take one
  (|left - right| <= 1 for each arm);
- within an arm, images are drawn without replacement, cycling through a shuffled pool, so a
  participant sees an image again only after seeing every other image of that arm;
- the same seed gives the same plan, so a participant's plan can be audited from its seed.

``survey_plan`` extends these to cells (a comparison, or a real_fake arm, at one exposure): each
cell appears floor or ceil of (main trials / cells) times, and exactly ``trials_per_cell`` times
when that is set. Images are drawn in the order the participant meets them, one cycle per arm
over all phases, so a practice image is not shown again in the main trials while the pool lasts.
"""
from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Hashable, Iterator, Mapping, Sequence

from .protocol import KINDS, Protocol

Arm = Hashable
Image = Hashable

# Phases and expected choices, spelled as Trial.Phase and Response.Choice spell them.
TRAINING, QUALIFICATION, PRACTICE, MAIN, ATTENTION = "training", "qualification", "practice", "main", "attention"
LEFT, RIGHT, REAL, GENERATED, SEEN = "left", "right", "real", "generated", "seen"
# Arm roles, spelled as SurveyArm.Role spells them.
COMPARED, ATTENTION_BAD, ATTENTION_REAL = "compared", "attention_bad", "attention_real"


@dataclass(frozen=True)
class PlannedTrial:
    position: int
    left_arm: Arm
    right_arm: Arm | None  # None: a real_fake trial shows one image, stored as the left one
    left_image: Image
    right_image: Image | None
    phase: str = MAIN
    block: int = 0
    exposure_ms: int | None = None  # None: unlimited, or adaptive (a staircase survey's main trials)
    expected_choice: str = ""  # empty: a preference, nothing is correct


@dataclass(frozen=True)
class PlanArm:
    """An arm as the planner sees it: a key (anything hashable), its image ids, realness and role."""

    key: Arm
    images: Sequence[Image]
    real: bool = False
    role: str = COMPARED


@dataclass(frozen=True)
class _Slot:
    """A planned trial before its images are drawn."""

    phase: str
    left_arm: Arm
    right_arm: Arm | None = None
    exposure_ms: int | None = None
    expected_choice: str = ""
    block: int = 0


@dataclass(frozen=True)
class _Design:
    """The checked inputs of a plan."""

    protocol: Protocol
    kind: str
    trials: int
    compared: tuple[PlanArm, ...]
    bad: PlanArm | None
    attention_real: PlanArm | None
    images: dict = field(default_factory=dict)

    @property
    def real_keys(self) -> list[Arm]:
        return [arm.key for arm in self.compared if arm.real]

    @property
    def generated_keys(self) -> list[Arm]:
        return [arm.key for arm in self.compared if not arm.real]

    @property
    def main_exposures(self) -> tuple[int | None, ...]:
        # A staircase's exposures are decided while the participant answers: planned as None (adaptive).
        return self.protocol.exposures_ms or (None,)

    @property
    def practice_exposures(self) -> tuple[int | None, ...]:
        if self.protocol.staircase is not None:
            return (self.protocol.staircase.start_ms,)
        return self.main_exposures


# --- The public planner -------------------------------------------------------------------------


def survey_plan(
    *, protocol: Protocol, kind: str, trials: int, arms: Sequence[PlanArm], seed: int
) -> list[PlannedTrial]:
    """The whole ordered trial sequence of one participant; ValueError when the design is impossible."""
    design = _design(protocol, kind, trials, arms)
    rng = random.Random(seed)
    # Main trials are planned first so that a survey without other phases plans exactly as pairwise_plan.
    main = _main_phase(design, rng)
    before = _training(design, rng) + _qualification(design, rng) + _practice(design, rng)
    return _draw_images(before + main, design.images, rng)


def pairwise_plan(
    images_by_arm: Mapping[Arm, Sequence[Image]], n_trials: int, seed: int
) -> list[PlannedTrial]:
    """The trial plan of one participant: balanced pairs and sides, shuffled order, drawn images."""
    arms = [PlanArm(key, tuple(images)) for key, images in images_by_arm.items()]
    return survey_plan(protocol=Protocol(), kind="pairwise", trials=n_trials, arms=arms, seed=seed)


def comparisons_of(pairs: str, compared: Sequence[PlanArm]) -> list[tuple[Arm, Arm]]:
    """The pairs of compared arms a pairwise survey shows, per ``Protocol.pairs``."""
    keys = [arm.key for arm in compared]
    if pairs == "all":
        return list(itertools.combinations(keys, 2))
    if pairs == "vs_first":
        return [(keys[0], other) for other in keys[1:]]
    if pairs == "vs_real":
        real = [arm.key for arm in compared if arm.real]
        generated = [arm.key for arm in compared if not arm.real]
        if not real or not generated:
            raise ValueError("pairs=vs_real needs at least one real and one generated compared arm")
        return [(r, g) for r in real for g in generated]
    raise ValueError(f"unknown pairs {pairs!r}")


def cell_count(*, protocol: Protocol, kind: str, arms: Sequence[PlanArm]) -> int:
    """Cells of the main trials: (comparison, exposure) for pairwise, (arm, exposure) for real_fake."""
    compared = [arm for arm in arms if arm.role == COMPARED]
    exposures = len(protocol.exposures_ms) or 1
    if kind == "pairwise":
        return len(comparisons_of(protocol.pairs, compared)) * exposures
    return len(compared) * exposures


def main_trial_count(*, protocol: Protocol, kind: str, arms: Sequence[PlanArm]) -> int | None:
    """cells x trials_per_cell when trials_per_cell is set; None when the researcher sets the count."""
    if protocol.trials_per_cell is None:
        return None
    return cell_count(protocol=protocol, kind=kind, arms=arms) * protocol.trials_per_cell


# --- Checking the design ------------------------------------------------------------------------


def _design(protocol: Protocol, kind: str, trials: int, arms: Sequence[PlanArm]) -> _Design:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if trials < 1:
        raise ValueError("a plan needs at least one trial")
    keys = [arm.key for arm in arms]
    if len(set(keys)) != len(keys):
        raise ValueError("each arm may be given only once")
    compared = tuple(arm for arm in arms if arm.role == COMPARED)
    bad = _single_role(arms, ATTENTION_BAD)
    attention_real = _single_role(arms, ATTENTION_REAL)
    _check_compared(kind, compared)
    used = list(compared) + ([bad, attention_real] if protocol.attention_checks else [])
    empty = [arm.key for arm in used if arm is not None and not arm.images]
    if empty:
        raise ValueError(f"arms without images: {empty}")
    protocol.validate(kind, trials)  # a ProtocolError is a ValueError that names the field
    design = _Design(protocol, kind, trials, compared, bad, attention_real,
                     {arm.key: tuple(arm.images) for arm in used if arm is not None})
    _check_attention(design)
    _check_cells(design, arms)
    return design


def _single_role(arms: Sequence[PlanArm], role: str) -> PlanArm | None:
    found = [arm for arm in arms if arm.role == role]
    if len(found) > 1:
        raise ValueError(f"at most one {role} arm")
    return found[0] if found else None


def _check_compared(kind: str, compared: Sequence[PlanArm]) -> None:
    if kind == "pairwise" and len(compared) < 2:
        raise ValueError("a pairwise plan needs at least two arms")
    if kind == "real_fake" and (all(arm.real for arm in compared) or not any(arm.real for arm in compared)):
        raise ValueError("a real_fake plan needs at least one real and one generated compared arm")


def _check_attention(design: _Design) -> None:
    if not design.protocol.attention_checks:
        return
    if design.bad is None:
        raise ValueError("attention checks need an attention_bad arm (obviously bad images)")
    if design.kind == "pairwise" and not design.real_keys and design.attention_real is None:
        raise ValueError("pairwise attention checks need real images: a real compared arm or an attention_real arm")


def _check_cells(design: _Design, arms: Sequence[PlanArm]) -> None:
    # Also raises for pairs=vs_real without a real arm, whatever trials_per_cell is.
    cells = cell_count(protocol=design.protocol, kind=design.kind, arms=arms)
    per_cell = design.protocol.trials_per_cell
    if per_cell is not None and cells * per_cell != design.trials:
        raise ValueError(
            f"trials_per_cell={per_cell} with {cells} cells makes {cells * per_cell} main trials, not {design.trials}"
        )


# --- Phases -------------------------------------------------------------------------------------


def _main_phase(design: _Design, rng: random.Random) -> list[_Slot]:
    measured = _measured(design, design.trials, MAIN, design.main_exposures, rng)
    blocks = _into_blocks(measured, design.protocol.blocks, rng)
    return _with_attention(blocks, _attention_checks(design, rng), rng)


def _practice(design: _Design, rng: random.Random) -> list[_Slot]:
    count = design.protocol.practice_trials
    if not count:
        return []
    return _measured(design, count, PRACTICE, design.practice_exposures, rng)


def _training(design: _Design, rng: random.Random) -> list[_Slot]:
    """Labelled examples, half real and half generated; the label is shown, so time is unlimited."""
    arms = _half_real(design, design.protocol.training_examples, rng)
    return [_Slot(TRAINING, arm, expected_choice=SEEN) for arm, _ in arms]


def _qualification(design: _Design, rng: random.Random) -> list[_Slot]:
    """Untimed real/generated trials, half real: the accuracy on each half is scored separately."""
    arms = _half_real(design, design.protocol.qualification_trials, rng)
    return [_Slot(QUALIFICATION, arm, expected_choice=REAL if real else GENERATED) for arm, real in arms]


def _half_real(design: _Design, count: int, rng: random.Random) -> list[tuple[Arm, bool]]:
    if not count:
        return []
    real_count = count // 2 + (count % 2 and rng.random() < 0.5)
    counts = _split_evenly(real_count, design.real_keys, rng)
    counts.update(_split_evenly(count - real_count, design.generated_keys, rng))
    real = set(design.real_keys)
    arms = [(arm, arm in real) for arm, times in counts.items() for _ in range(times)]
    rng.shuffle(arms)
    return arms


def _measured(design: _Design, count: int, phase: str, exposures: tuple, rng: random.Random) -> list[_Slot]:
    """Trials like the main ones (balanced cells), shuffled; practice is planned the same way."""
    if design.kind == "pairwise":
        return _pairwise_slots(design, count, phase, exposures, rng)
    return _real_fake_slots(design, count, phase, exposures, rng)


# --- Pairwise cells -----------------------------------------------------------------------------


def _pairwise_slots(design: _Design, count: int, phase: str, exposures: tuple, rng: random.Random) -> list[_Slot]:
    comparisons = comparisons_of(design.protocol.pairs, design.compared)
    pairs = balanced_comparisons(comparisons, count, rng)
    oriented = balanced_sides(pairs, rng)
    with_exposures = _oriented_exposures(comparisons, oriented, exposures, rng)
    real = set(design.real_keys)
    slots = [
        _Slot(phase, left, right, exposure, _pair_expectation(left, right, real, design.protocol.choose))
        for (left, right), exposure in zip(oriented, with_exposures)
    ]
    rng.shuffle(slots)
    return slots


def _pair_expectation(left: Arm, right: Arm, real: set, choose: str) -> str:
    """The side of the real image (choose=real) or of the generated one (choose=fake); empty for a preference."""
    if (left in real) == (right in real):
        return ""
    real_side = LEFT if left in real else RIGHT
    return real_side if choose == "real" else _other_side(real_side)


def _other_side(side: str) -> str:
    return RIGHT if side == LEFT else LEFT


def balanced_comparisons(
    comparisons: Sequence[tuple[Arm, Arm]], n_trials: int, rng: random.Random
) -> list[tuple[Arm, Arm]]:
    """n_trials comparisons, each floor(n/C) or ceil(n/C) times.

    The comparisons that get one extra appearance are chosen at random, preferring those whose
    arms have appeared least, so that arms also appear about equally often.
    """
    rounds, extra = divmod(n_trials, len(comparisons))
    chosen = list(comparisons) * rounds
    appearances = Counter(arm for pair in chosen for arm in pair)
    candidates = list(comparisons)
    rng.shuffle(candidates)
    for _ in range(extra):
        best = min(candidates, key=lambda pair: appearances[pair[0]] + appearances[pair[1]])
        candidates.remove(best)
        chosen.append(best)
        appearances.update(best)
    return chosen


def balanced_pairs(arms: Sequence[Arm], n_trials: int, rng: random.Random) -> list[tuple[Arm, Arm]]:
    """n_trials unordered pairs of ``arms``, each pair floor(n/P) or ceil(n/P) times."""
    return balanced_comparisons(list(itertools.combinations(arms, 2)), n_trials, rng)


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


def _oriented_exposures(
    comparisons: Sequence[tuple[Arm, Arm]], oriented: Sequence[tuple[Arm, Arm]], exposures: tuple, rng: random.Random
) -> list[int | None]:
    """The exposure of each oriented pair: each comparison's trials spread evenly over the exposures,
    and within each (comparison, exposure) cell the sides alternate, so each cell is side-balanced +-1.
    """
    instances = Counter(oriented)
    totals = {pair: instances[pair] + instances[pair[::-1]] for pair in comparisons}
    spread = _spread_over_exposures(totals, exposures, rng)
    queue: dict[tuple[Arm, Arm], list] = {}
    for pair, sequence in spread.items():
        majority = pair if instances[pair] >= instances[pair[::-1]] else pair[::-1]
        queue[majority] = sequence[0::2]
        queue[majority[::-1]] = sequence[1::2]
    # Walk the pairs in their given order so that, with one exposure, the order is balanced_sides' own.
    return [queue[pair].pop(0) for pair in oriented]


def _spread_over_exposures(totals: dict, exposures: tuple, rng: random.Random) -> dict[Hashable, list]:
    """For each group (a comparison or an arm) its trials' exposures, each exposure floor/ceil of the group's share.

    Extra trials go to the exposures used least so far, so exposures also stay balanced overall (+-1).
    """
    groups = list(totals)
    if len(exposures) > 1:
        rng.shuffle(groups)
    used: Counter = Counter()
    spread = {}
    for group in groups:
        base, extra = divmod(totals[group], len(exposures))
        counts = dict.fromkeys(exposures, base)
        if extra:
            candidates = list(exposures)
            rng.shuffle(candidates)  # ties broken at random; sort below is stable
            for exposure in sorted(candidates, key=lambda e: used[e])[:extra]:
                counts[exposure] += 1
        used.update(counts)
        spread[group] = [exposure for exposure in exposures for _ in range(counts[exposure])]
    return spread


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


# --- Real/fake cells ----------------------------------------------------------------------------


def _real_fake_slots(design: _Design, count: int, phase: str, exposures: tuple, rng: random.Random) -> list[_Slot]:
    per_arm = _real_fake_arm_counts(design, count, phase, rng)
    spread = _spread_over_exposures(per_arm, exposures, rng)
    real = set(design.real_keys)
    slots = [
        _Slot(phase, arm, None, exposure, REAL if arm in real else GENERATED)
        for arm, arm_exposures in spread.items()
        for exposure in arm_exposures
    ]
    rng.shuffle(slots)
    return slots


def _real_fake_arm_counts(design: _Design, count: int, phase: str, rng: random.Random) -> Counter:
    """Trials per arm: real_fraction of them real, split evenly over the real arms, the rest over the others.

    With trials_per_cell every (arm, exposure) cell of the main phase gets exactly that many instead.
    """
    per_cell = design.protocol.trials_per_cell
    if phase == MAIN and per_cell is not None:
        return Counter({arm.key: per_cell * len(design.main_exposures) for arm in design.compared})
    real_count = _round_half_up(count * design.protocol.real_fraction)
    counts = _split_evenly(real_count, design.real_keys, rng)
    counts.update(_split_evenly(count - real_count, design.generated_keys, rng))
    return counts


def _round_half_up(value: float) -> int:
    return int(value + 0.5)


def _split_evenly(count: int, keys: Sequence[Hashable], rng: random.Random) -> Counter:
    """``count`` shared over ``keys``, floor or ceil each; the ones getting an extra chosen at random."""
    base, extra = divmod(count, len(keys))
    counts = Counter(dict.fromkeys(keys, base))
    if extra:
        counts.update(rng.sample(list(keys), extra))
    return counts


# --- Blocks and attention checks ----------------------------------------------------------------


def _into_blocks(slots: list[_Slot], blocks: int, rng: random.Random) -> list[list[_Slot]]:
    """Consecutive blocks, as equal in size as possible, each with its fair share of every cell.

    Dealing the trials cell by cell round the blocks gives each block floor/ceil of each cell, so
    a staircase that restarts in each block sees the same mix in every block.
    """
    if blocks == 1:
        return [slots]
    by_cell: dict[Hashable, list[_Slot]] = defaultdict(list)
    for slot in slots:
        by_cell[(frozenset((slot.left_arm, slot.right_arm)), slot.exposure_ms)].append(slot)
    dealt: list[list[_Slot]] = [[] for _ in range(blocks)]
    index = 0
    for cell in by_cell.values():
        for slot in _alternate_sides(cell):
            dealt[index % blocks].append(slot)
            index += 1
    for block in dealt:
        rng.shuffle(block)
    return dealt


def _alternate_sides(cell: list[_Slot]) -> list[_Slot]:
    """A cell's trials with left and right orientations interleaved, so dealing also splits the sides."""
    by_left: dict[Arm, list[_Slot]] = defaultdict(list)
    for slot in cell:
        by_left[slot.left_arm].append(slot)
    runs = sorted(by_left.values(), key=len, reverse=True)
    return [slot for group in itertools.zip_longest(*runs) for slot in group if slot is not None]


def _attention_checks(design: _Design, rng: random.Random) -> list[_Slot]:
    count = design.protocol.attention_checks
    exposure = design.protocol.attention_exposure()
    bad = design.bad.key if design.bad is not None else None
    if not count:
        return []
    if design.kind == "real_fake":
        return [_Slot(ATTENTION, bad, None, exposure, GENERATED) for _ in range(count)]
    # The good side: the survey's own real images where it has some, so the check looks like any trial.
    real_sources = design.real_keys or [design.attention_real.key]
    real_left = [index % 2 == 0 for index in range(count)]
    rng.shuffle(real_left)
    checks = []
    for index, left_is_real in enumerate(real_left):
        real = real_sources[index % len(real_sources)]
        real_side = LEFT if left_is_real else RIGHT
        expected = real_side if design.protocol.choose == "real" else _other_side(real_side)
        left, right = (real, bad) if left_is_real else (bad, real)
        checks.append(_Slot(ATTENTION, left, right, exposure, expected))
    return checks


def _with_attention(blocks: list[list[_Slot]], checks: list[_Slot], rng: random.Random) -> list[_Slot]:
    """The blocks in order, each trial numbered with its block, the checks spread over the blocks.

    A check is placed after a seeded random main trial of its block, never first in a block: the
    first main trial of all is never a check, and no block starts with one.
    """
    per_block = _split_evenly(len(checks), range(len(blocks)), rng)
    remaining = iter(checks)
    sequence: list[_Slot] = []
    for number, block in enumerate(blocks):
        after = _insertion_points(len(block), per_block[number], rng)
        for index, slot in enumerate(block, start=1):
            sequence.append(_in_block(slot, number))
            sequence += [_in_block(next(remaining), number) for _ in range(after[index])]
    return sequence


def _insertion_points(block_size: int, checks: int, rng: random.Random) -> Counter:
    """How many checks follow the 1st, 2nd, ... trial of a block; checks are not back to back while room lasts."""
    if not checks:
        return Counter()
    places = range(1, block_size + 1)
    if checks <= block_size:
        return Counter(rng.sample(places, checks))
    return Counter(rng.choices(places, k=checks))


def _in_block(slot: _Slot, block: int) -> _Slot:
    return _Slot(slot.phase, slot.left_arm, slot.right_arm, slot.exposure_ms, slot.expected_choice, block)


# --- Images -------------------------------------------------------------------------------------


def _draw_images(slots: Sequence[_Slot], images_by_arm: Mapping[Arm, Sequence[Image]], rng) -> list[PlannedTrial]:
    """Images in the order the participant meets them: one cycle per arm across every phase."""
    draw = {arm: _image_cycle(images, rng) for arm, images in images_by_arm.items()}
    return [
        PlannedTrial(
            position=position,
            left_arm=slot.left_arm,
            right_arm=slot.right_arm,
            left_image=next(draw[slot.left_arm]),
            right_image=next(draw[slot.right_arm]) if slot.right_arm is not None else None,
            phase=slot.phase,
            block=slot.block,
            exposure_ms=slot.exposure_ms,
            expected_choice=slot.expected_choice,
        )
        for position, slot in enumerate(slots)
    ]


def _image_cycle(images: Sequence[Image], rng: random.Random) -> Iterator[Image]:
    """Endless draws without replacement: reshuffle after each pass through the pool."""
    pool = list(images)
    while True:
        rng.shuffle(pool)
        yield from pool


# --- Summaries the guarantees are about ---------------------------------------------------------


def side_balance(plan: Sequence[PlannedTrial]) -> dict[Arm, tuple[int, int]]:
    """(left, right) appearances of each arm in pairwise trials: what the balance guarantee is about."""
    counts: dict[Arm, list[int]] = defaultdict(lambda: [0, 0])
    for trial in plan:
        if trial.right_arm is None:
            continue
        counts[trial.left_arm][0] += 1
        counts[trial.right_arm][1] += 1
    return {arm: (left, right) for arm, (left, right) in counts.items()}


def pair_counts(plan: Sequence[PlannedTrial]) -> Counter:
    """Appearances of each unordered pair of arms (as a frozenset)."""
    return Counter(frozenset((t.left_arm, t.right_arm)) for t in plan)
