"""The live dashboard's numbers while a survey runs, as one JSON-serialisable dict.

The page polls this every few seconds, so it reads the database a fixed handful of times
whatever the survey's size: the participant counts (surveys.selectors, the one place they are
counted), the one responses frame the results page also reads, the compared arms, and the
completed participants' start and end times. Everything else is computed from those.
"""
import json
from datetime import datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from django.utils import timezone

from analysis import charts, selectors
from analysis.tables import counted_responses
from surveys.models import Survey
from surveys.selectors import survey_participant_counts

RECENT_MINUTES = 5


def survey_live_status(*, survey: Survey) -> dict:
    now = timezone.now()
    counts = survey_participant_counts(survey=survey)
    frame = selectors.survey_responses_frame(survey=survey)
    # The results page's default rules, so "counted" here is the n the results page shows.
    counted, exclusions = counted_responses(frame)
    arms = _arm_answers(frame, counted, selectors.survey_arms(survey=survey))
    durations = _completed_durations(survey)
    participants = _participant_numbers(counts)
    answers = _answer_numbers(frame, counts, counted, now)
    return {
        "survey": {"id": survey.pk, "name": survey.name, "status": survey.status,
                   "status_label": survey.get_status_display()},
        "generated_at": _iso(now),
        "participants": participants,
        "answers": answers,
        "median_minutes_completed": _median_minutes(durations),
        "arms": arms,
        "exclusions": [{"rule": e.rule, "answers": e.responses, "participants": e.participants} for e in exclusions],
        "summary": _summary_sentence(participants, answers),
        "charts": _charts(frame, durations, arms),
    }


def _participant_numbers(counts: dict[str, int]) -> dict:
    started, completed, screened_out = counts["started"], counts["completed"], counts["screened_out"]
    return {
        "started": started,
        "completed": completed,
        # Screened-out sessions have ended too: they are not waiting for anyone.
        "in_progress": started - completed - screened_out,
        "excluded": counts["excluded"],
        "screened_out": screened_out,
        "completion_rate": completed / started if started else None,
    }


def _answer_numbers(frame: pd.DataFrame, counts: dict[str, int], counted: pd.DataFrame, now: datetime) -> dict:
    times = frame["created_at"]
    return {
        "recorded": counts["responses"],
        "counted": len(counted),
        "last_minutes": int((times >= now - timedelta(minutes=RECENT_MINUTES)).sum()),
        "recent_window_minutes": RECENT_MINUTES,
        "last_at": _iso(times.max()) if len(times) else None,
    }


def _arm_answers(frame: pd.DataFrame, counted: pd.DataFrame, arms) -> list[dict]:
    """Per compared arm: main-phase answers to trials that showed it, and how many of those count.

    Attention checks are left out even where they show a compared arm: they measure the
    participant, not the arm.
    """
    main = frame[frame["phase"] == "main"]
    return [
        {"id": arm.id, "label": arm.label, "recorded": _shown(main, arm.id), "counted": _shown(counted, arm.id)}
        for arm in arms
    ]


def _shown(frame: pd.DataFrame, arm_id: int) -> int:
    return int(((frame["left_arm_id"] == arm_id) | (frame["right_arm_id"] == arm_id)).sum())


def _completed_durations(survey: Survey) -> pd.DataFrame:
    rows = list(survey.participants.filter(completed_at__isnull=False).values_list("created_at", "completed_at"))
    started, completed = zip(*rows) if rows else ((), ())
    return pd.DataFrame({"created_at": pd.to_datetime(list(started), utc=True),
                         "completed_at": pd.to_datetime(list(completed), utc=True)})


def _median_minutes(durations: pd.DataFrame) -> float | None:
    if durations.empty:
        return None
    minutes = (durations["completed_at"] - durations["created_at"]).dt.total_seconds() / 60
    return round(float(minutes.median()), 1)


def _summary_sentence(participants: dict, answers: dict) -> str:
    """What the page's live region reads out after each update: short, so it does not chatter."""
    return (f"{answers['recorded']} answers recorded ({answers['counted']} counted); "
            f"{participants['completed']} of {participants['started']} participants completed.")


def _charts(frame: pd.DataFrame, durations: pd.DataFrame, arms: list[dict]) -> dict:
    """plotly figures as JSON (None where there is nothing to draw yet), keyed by the page's data-chart names."""
    over_time = charts.responses_over_time_figure(frame["created_at"], durations["completed_at"])
    return {"responses_over_time": _figure_json(over_time), "answers_per_arm": _figure_json(arm_answers_figure(arms))}


def arm_answers_figure(arms: list[dict]) -> go.Figure | None:
    """Grouped bars per compared arm: main-phase answers recorded, and those the results count."""
    if not arms:
        return None
    labels = [arm["label"] for arm in arms]
    figure = go.Figure([
        go.Bar(name="Recorded", x=labels, y=[arm["recorded"] for arm in arms], marker_color=charts.PALETTE[4]),
        go.Bar(name="Counted", x=labels, y=[arm["counted"] for arm in arms], marker_color=charts.PALETTE[0]),
    ])
    figure.update_layout(
        template="plotly_white", barmode="group", yaxis_title="Main-phase answers", yaxis_rangemode="tozero",
        margin={"l": 60, "r": 10, "t": 30, "b": 40}, legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
    )
    return figure


def _figure_json(figure: go.Figure | None) -> dict | None:
    # plotly's own encoder turns timestamps, numpy values and NaN into what plotly.js reads.
    return None if figure is None else json.loads(pio.to_json(figure, validate=False))


def _iso(moment) -> str:
    """UTC, to the second, with a Z: the page shows it as it comes."""
    return pd.Timestamp(moment).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
