"""The sample-size calculator on the survey page: how many participants a comparison needs.

The statistics (exact power, the answers needed) are in stats.py; this module knows the survey:
how many answers one participant gives to each comparison.
"""
import math
from dataclasses import dataclass

from analysis import stats
from generation.models import ImagePool
from surveys.design import PlanArm, cell_count
from surveys.models import Survey, SurveyArm

DEFAULT_RATE = 0.6
DEFAULT_POWER = 0.8
DEFAULT_ALPHA = 0.05


@dataclass(frozen=True)
class ParticipantPlan:
    need: stats.SampleSize
    cells: int  # comparisons (x exposures) the main trials are spread over
    answers_per_participant: float  # main trials one participant gives to each cell
    participants: int


def participants_needed(*, survey: Survey, rate: float = DEFAULT_RATE, power: float = DEFAULT_POWER,
                        alpha: float = DEFAULT_ALPHA) -> ParticipantPlan:
    """Participants for every comparison (at every exposure) to reach ``power`` against ``rate``.

    Answers are treated as independent. Answers of one participant are not quite (people differ),
    so take this as the least to plan for, not a guarantee.
    """
    need = stats.sample_size(rate, power=power, alpha=alpha)
    arms = [PlanArm(arm.pk, (), real=arm.pool.kind == ImagePool.Kind.REAL, role=arm.role)
            for arm in survey.arms.select_related("pool").filter(role=SurveyArm.Role.COMPARED)]
    cells = max(1, cell_count(protocol=survey.get_protocol(), kind=survey.kind, arms=arms))
    per_participant = survey.trials_per_participant / cells
    return ParticipantPlan(need, cells, per_participant, math.ceil(need.answers / per_participant))
