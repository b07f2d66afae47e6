"""The stages a participant goes through, as the runner numbers them ("Example 2 of 4", "Practice: 1 of 3").

Pure: computed once from the planned trials when a participant starts and stored on the participant
(``Participant.stages``), so that serving a trial needs no counting query.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .design import ATTENTION, MAIN, PRACTICE, QUALIFICATION, TRAINING

STAGE_OF_PHASE = {
    TRAINING: "training",
    QUALIFICATION: "qualification",
    PRACTICE: "practice",
    MAIN: "test",
    ATTENTION: "test",  # an attention check must look like any main trial
}
TEST_PHASES = (MAIN, ATTENTION)


@dataclass(frozen=True)
class StageCounts:
    """Where each stage starts and how many trials it has, where each block of the test stage starts, and the total."""

    first: dict[str, int]
    size: dict[str, int]
    block_starts: frozenset[int]
    total: int

    @classmethod
    def of_trials(cls, trials: Iterable[tuple[str, int, int]]) -> StageCounts:
        """From (phase, block, position) of every trial of a participant."""
        first: dict[str, int] = {}
        size: dict[str, int] = {}
        block_first: dict[int, int] = {}
        total = 0
        for phase, block, position in trials:
            stage = STAGE_OF_PHASE[phase]
            first[stage] = min(first.get(stage, position), position)
            size[stage] = size.get(stage, 0) + 1
            if phase in TEST_PHASES:
                block_first[block] = min(block_first.get(block, position), position)
            total += 1
        return cls(first, size, frozenset(block_first.values()), total)

    def as_json(self) -> dict:
        return {"first": self.first, "size": self.size, "block_starts": sorted(self.block_starts), "total": self.total}

    @classmethod
    def from_json(cls, data: dict) -> StageCounts:
        return cls(dict(data["first"]), dict(data["size"]), frozenset(data["block_starts"]), int(data["total"]))
