"""Charts: plotly figures for the researcher pages, and plotly.js itself served from the installed
package (no CDN: the platform runs where nothing outside can be reached).

The builders are pure: they take the results tables (analysis.tables) or plain Series and return a
``plotly.graph_objects.Figure``, or None when there is nothing to draw.
"""
import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import plotly
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from analysis import stats
from analysis.tables import SurveyResults

# Okabe–Ito: distinguishable with every common colour-vision deficiency.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
WIDTH, HEIGHT = 800, 450  # the static images' size in CSS pixels; the page lets plotly fill its box
CURVE_POINTS = 100  # samples of a fitted psychometric curve: smooth on a log axis


@cache
def plotly_js() -> bytes:
    return get_plotlyjs().encode("utf-8")


def plotly_version() -> str:
    return plotly.__version__


def _layout(figure: go.Figure, *, x_title: str, y_title: str, **extra) -> go.Figure:
    figure.update_layout(
        template="plotly_white", width=WIDTH, height=HEIGHT, colorway=PALETTE,
        font={"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13},
        margin={"l": 70, "r": 20, "t": 30, "b": 60}, hovermode="closest",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        xaxis_title=x_title, yaxis_title=y_title, **extra,
    )
    return figure


# A cumulative count drawn from more points than this is thinned to this many (evenly by count): the
# curve moves by under 0.2 % of its height between kept points, and the live dashboard's every-5-s poll
# stays a few kilobytes however many answers a survey has.
MAX_TIMELINE_POINTS = 500


def _cumulative(times: pd.Series | None) -> tuple[pd.Series, list[int]]:
    """Sorted times (naive UTC: plotly.js would otherwise shift them into the viewer's zone) and their counts."""
    if times is None or len(times) == 0:
        return pd.Series([], dtype="datetime64[ns]"), []
    times = pd.to_datetime(pd.Series(times), utc=True).dropna().dt.tz_convert(None)
    times = times.sort_values(ignore_index=True)
    kept = np.unique(np.linspace(0, len(times) - 1, min(len(times), MAX_TIMELINE_POINTS)).round().astype(int))
    return times.iloc[kept].reset_index(drop=True), [int(i) + 1 for i in kept]


def responses_over_time_figure(answer_times: pd.Series, completion_times: pd.Series) -> go.Figure | None:
    """Cumulative answers recorded and participants completed against time (UTC)."""
    answers, answer_counts = _cumulative(answer_times)
    completions, completion_counts = _cumulative(completion_times)
    if answers.empty and completions.empty:
        return None
    figure = go.Figure()
    for name, times, counts, colour in (
        ("Answers recorded", answers, answer_counts, PALETTE[0]),
        ("Participants completed", completions, completion_counts, PALETTE[1]),
    ):
        figure.add_trace(go.Scatter(
            # A lone point draws no line: give it a marker so the first answer shows.
            x=times, y=counts, name=name, mode="lines" if len(times) > 1 else "lines+markers",
            line={"shape": "hv", "color": colour, "width": 2},
            hovertemplate="%{x|%Y-%m-%d %H:%M:%S} UTC<br>" + name.lower() + ": %{y}<extra></extra>",
        ))
    return _layout(figure, x_title="Time (UTC)", y_title="Cumulative count", yaxis_rangemode="tozero")


# --- Selection rates ----------------------------------------------------------------------------


def _rate_hover(rate_name: str, confidence: float) -> str:
    """Hover text for a rate point whose customdata is (ci_low, ci_high, n, successes)."""
    return (
        "<b>%{x}</b><br>" + rate_name + ": %{y:.1%}"
        + f"<br>{confidence * 100:g} % interval: " + "%{customdata[0]:.1%}–%{customdata[1]:.1%}"
        + "<br>%{customdata[3]} of n = %{customdata[2]}<extra></extra>"
    )


def _error_bars(values: pd.Series, low: pd.Series, high: pd.Series, **extra) -> dict:
    """Asymmetric error bars reaching exactly from ``low`` to ``high``."""
    return {"type": "data", "symmetric": False, "array": (high - values).to_numpy(float),
            "arrayminus": (values - low).to_numpy(float), "thickness": 1.5, "width": 6, **extra}


def _chance_line(figure: go.Figure, label: str = "chance (0.5)") -> None:
    figure.add_hline(y=0.5, line={"dash": "dash", "color": "#666666", "width": 1},
                     annotation_text=label, annotation_position="top right", annotation_font_color="#444444")


def _arm_colours(labels) -> dict[str, str]:
    """One colour per arm, in results order, so an arm looks the same in every chart."""
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(dict.fromkeys(labels))}


def _has_rows(table: pd.DataFrame | None, count_column: str = "n") -> bool:
    return table is not None and not table.empty and (count_column not in table or (table[count_column] > 0).any())


def _confidence(results: SurveyResults) -> float:
    return results.summary.get("confidence", stats.DEFAULT_CONFIDENCE)


def selection_rate_figure(results: SurveyResults) -> go.Figure | None:
    """Pairwise: each arm's pooled "judged more realistic" rate; real/fake: each arm's judged-real rate."""
    if results.kind == "real_fake":
        return _judged_real_figure(results.table, _confidence(results))
    return _preferred_figure(results.arms, _confidence(results))


def _preferred_figure(arms: pd.DataFrame | None, confidence: float) -> go.Figure | None:
    if not _has_rows(arms):
        return None
    colours = _arm_colours(arms["arm"])
    figure = go.Figure(go.Scatter(
        x=arms["arm"], y=arms["preferred_rate"], mode="markers", name="Judged more realistic",
        marker={"size": 11, "color": [colours[arm] for arm in arms["arm"]],
                "symbol": ["diamond" if images == "real" else "circle" for images in arms["images"]]},
        error_y=_error_bars(arms["preferred_rate"], arms["ci_low"], arms["ci_high"], color="#333333"),
        customdata=arms[["ci_low", "ci_high", "n", "preferred"]].to_numpy(float),
        hovertemplate=_rate_hover("judged more realistic", confidence), showlegend=False,
    ))
    _chance_line(figure)
    return _layout(figure, x_title="Arm", y_title="Share of its comparisons judged more realistic",
                   xaxis=_category_axis(arms["arm"]), yaxis={"range": [0, 1], "tickformat": ".0%"})


def _judged_real_figure(table: pd.DataFrame | None, confidence: float) -> go.Figure | None:
    if not _has_rows(table):
        return None
    figure = go.Figure()
    # Untimed answers (NaN exposure) form one group of their own, first, as in the tables.
    untimed = [math.nan] if table["exposure_ms"].isna().any() else []
    exposures = untimed + sorted(table["exposure_ms"].dropna().unique())
    for i, exposure in enumerate(exposures):
        rows = table[table["exposure_ms"].isna()] if pd.isna(exposure) else table[table["exposure_ms"] == exposure]
        figure.add_trace(go.Scatter(
            x=rows["arm"], y=rows["judged_real_rate"], mode="markers", name=_exposure_name(exposure),
            marker={"size": 10, "color": PALETTE[i % len(PALETTE)]},
            error_y=_error_bars(rows["judged_real_rate"], rows["ci_low"], rows["ci_high"]),
            customdata=rows[["ci_low", "ci_high", "n", "judged_real"]].to_numpy(float),
            hovertemplate=_rate_hover(f"judged real ({_exposure_name(exposure)})", confidence),
        ))
    _chance_line(figure)
    return _layout(figure, x_title="Arm", y_title="Share of its images judged real", scattermode="group",
                   showlegend=len(exposures) > 1, legend_title_text="Exposure",
                   xaxis=_category_axis(table["arm"]), yaxis={"range": [0, 1], "tickformat": ".0%"})


def _category_axis(labels: pd.Series) -> dict:
    """Arms in the order given, with half a slot of room either side so no point sits on the frame."""
    order = list(dict.fromkeys(labels))
    return {"type": "category", "categoryorder": "array", "categoryarray": order, "range": [-0.5, len(order) - 0.5]}


def _exposure_name(exposure_ms: float) -> str:
    return "unlimited time" if pd.isna(exposure_ms) else f"{exposure_ms:g} ms"


# --- Ranking ------------------------------------------------------------------------------------


def ranking_figure(results: SurveyResults) -> go.Figure | None:
    """Bradley–Terry scores with their intervals, best first; the real arm drawn as a diamond."""
    ranking = results.ranking
    if ranking is None or ranking.empty:
        return None
    colours = _arm_colours(results.arms["arm"] if results.arms is not None else ranking["arm"])
    figure = go.Figure()
    for images, name, symbol in (("generated", "Generated images", "circle"), ("real", "Real images", "diamond")):
        rows = ranking[ranking["images"] == images]
        if rows.empty:
            continue
        figure.add_trace(go.Scatter(
            x=rows["arm"], y=rows["score"], mode="markers", name=name,
            marker={"size": 11, "symbol": symbol, "color": [colours.get(arm, PALETTE[0]) for arm in rows["arm"]],
                    "line": {"width": 1, "color": "#000000"}},
            error_y=_error_bars(rows["score"], rows["score_low"], rows["score_high"], color="#333333"),
            customdata=rows[["score_low", "score_high", "n", "rank"]].to_numpy(float),
            hovertemplate=(f"<b>%{{x}}</b> (rank %{{customdata[3]}})<br>score: %{{y:.2f}}<br>"
                           f"{_confidence(results) * 100:g} % interval: "
                           "%{customdata[0]:.2f} to %{customdata[1]:.2f}<br>n = %{customdata[2]} comparisons"
                           "<extra></extra>"),
        ))
    relative = "relative" in results.summary.get("ranking_method", "")
    y_title = "Bradley–Terry score (log-strength" + (", 0 = real images)" if relative else ")")
    figure.add_hline(y=0, line={"dash": "dot", "color": "#999999", "width": 1})
    return _layout(figure, x_title="Arm (best first)", y_title=y_title, xaxis=_category_axis(ranking["arm"]))


# --- Exposure curves ----------------------------------------------------------------------------

_MEASURE_TITLES = {
    "accuracy": "Accuracy (share of correct verdicts)",
    "real preferred": "Share preferring the real image",
}


def exposure_curve_figure(results: SurveyResults) -> go.Figure | None:
    """Per arm: rate against exposure (log x) with intervals, the fitted psychometric curve and its threshold."""
    curves = results.exposure_curves
    if not _has_rows(curves):
        return None
    curves = curves[curves["exposure_ms"].notna() & (curves["exposure_ms"] > 0)]
    if curves.empty:
        return None
    colours = _arm_colours(curves["arm"])
    measures = list(dict.fromkeys(curves["measure"]))
    figure = go.Figure()
    for (arm, measure), points in curves.groupby(["arm", "measure"], sort=False):
        name = arm if len(measures) == 1 else f"{arm} · {measure}"
        style = {"colour": colours[arm], "group": name, "confidence": _confidence(results)}
        figure.add_trace(_exposure_points(points, name, style))
        fit = _threshold_row(results.thresholds, arm, measure)
        if fit is not None:
            figure.add_traces(_fitted_traces(fit, points["exposure_ms"], name, style))
    _chance_line(figure)
    y_title = _MEASURE_TITLES.get(measures[0], measures[0].capitalize()) if len(measures) == 1 else "Rate"
    return _layout(figure, x_title="Exposure (ms, log scale)", y_title=y_title,
                   xaxis={"type": "log"}, yaxis={"range": [0, 1.02], "tickformat": ".0%"})


def _exposure_points(points: pd.DataFrame, name: str, style: dict) -> go.Scatter:
    return go.Scatter(
        x=points["exposure_ms"], y=points["rate"], mode="markers", name=name, legendgroup=style["group"],
        marker={"size": 9, "color": style["colour"]},
        error_y=_error_bars(points["rate"], points["ci_low"], points["ci_high"], color=style["colour"]),
        customdata=points[["ci_low", "ci_high", "n", "successes"]].to_numpy(float),
        hovertemplate=(f"<b>{name}</b> at %{{x:g}} ms<br>rate: %{{y:.1%}}<br>{style['confidence'] * 100:g} % "
                       "interval: %{customdata[0]:.1%}–%{customdata[1]:.1%}<br>n = %{customdata[2]}<extra></extra>"),
    )


def _threshold_row(thresholds: pd.DataFrame | None, arm: str, measure: str):
    """The arm's fit, or None where it has none (no table, no row, or a NaN parameter)."""
    if thresholds is None or thresholds.empty:
        return None
    rows = thresholds[(thresholds["arm"] == arm) & (thresholds["measure"] == measure)]
    if rows.empty:
        return None
    row = rows.iloc[0]
    fitted = all(pd.notna(row[column]) and row[column] > 0 for column in ("threshold_ms", "slope"))
    return row if fitted and pd.notna(row["floor"]) else None


def curve_exposures(exposures_ms: pd.Series, points: int = CURVE_POINTS) -> np.ndarray:
    """Log-spaced exposures a little beyond the measured range: where a fitted curve is drawn."""
    low, high = float(exposures_ms.min()), float(exposures_ms.max())
    return np.geomspace(low / 1.25, high * 1.25, points)


def _fitted_traces(row, exposures_ms: pd.Series, name: str, style: dict) -> list[go.Scatter]:
    fit = stats.PsychometricFit(threshold_ms=float(row["threshold_ms"]), slope=float(row["slope"]),
                                floor=float(row["floor"]), converged=bool(row["converged"]))
    x = curve_exposures(exposures_ms)
    line = go.Scatter(
        x=x, y=stats.psychometric_curve(fit, x), mode="lines", name=f"{name} (fit)", legendgroup=style["group"],
        showlegend=False, line={"color": style["colour"], "width": 2, "dash": "solid" if fit.converged else "dot"},
        hovertemplate=f"<b>{name}</b> fitted<br>%{{x:.0f}} ms: %{{y:.1%}}<extra></extra>",
    )
    threshold = fit.threshold_ms
    low, high = row["threshold_low"], row["threshold_high"]
    interval = (f"{style['confidence'] * 100:g} % interval {low:.0f}–{high:.0f} ms"
                if pd.notna(low) and pd.notna(high) else "no interval")
    marker = go.Scatter(
        x=[threshold], y=stats.psychometric_curve(fit, [threshold]), mode="markers", name=f"{name} threshold",
        legendgroup=style["group"], showlegend=False,
        marker={"size": 12, "symbol": "line-ns-open", "color": style["colour"], "line": {"width": 3}},
        error_x={"type": "data", "symmetric": False, "array": [high - threshold], "arrayminus": [threshold - low],
                 "color": style["colour"], "thickness": 2, "width": 4},
        hovertemplate=f"<b>{name}</b> threshold: %{{x:.0f}} ms<br>{interval}<extra></extra>",
    )
    return [line, marker]


# --- The results page's charts ------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    name: str  # URL- and file-name ("selection-rates")
    heading: str
    figure: go.Figure
    summary: str  # one line: the chart's text alternative


def results_charts(results: SurveyResults, frame: pd.DataFrame, completion_times: pd.Series) -> dict[str, Chart]:
    """Every chart the results page shows, in page order; charts with nothing to draw are left out.

    ``frame`` is the responses frame (analysis.selectors.survey_responses_frame), whose ``created_at``
    column gives the answers over time; ``completion_times`` the participants' completion times.
    """
    real_fake = results.kind == "real_fake"
    candidates = [
        ("selection-rates", "Judged real, per arm" if real_fake else "Judged more realistic, per arm",
         selection_rate_figure(results), _selection_summary),
        ("ranking", "Bradley–Terry ranking", ranking_figure(results), _ranking_summary),
        ("exposure-curves", "Rate against exposure", exposure_curve_figure(results), _exposure_summary),
        ("responses-over-time", "Responses over time",
         responses_over_time_figure(frame["created_at"] if "created_at" in frame else None, completion_times),
         _time_summary),
    ]
    return {
        name: Chart(name, heading, figure, summarise(figure))
        for name, heading, figure, summarise in candidates if figure is not None
    }


def results_figures(results: SurveyResults, frame: pd.DataFrame, completion_times: pd.Series) -> dict[str, go.Figure]:
    """The results page's figures by name, in page order."""
    return {name: chart.figure for name, chart in results_charts(results, frame, completion_times).items()}


# Text alternatives, read back from the traces so that they say exactly what is drawn.


def _percent(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{value * 100:.1f} %"


def _point_phrases(trace, value_format) -> list[str]:
    phrases = []
    for x, y, extra in zip(trace.x, trace.y, trace.customdata):
        low, high, n = extra[0], extra[1], extra[2]
        n_text = "n 0" if pd.isna(n) else f"n {int(n)}"
        phrases.append(f"{x} {value_format(y)} ({value_format(low)} to {value_format(high)}, {n_text})")
    return phrases


def _selection_summary(figure: go.Figure) -> str:
    parts = []
    for trace in figure.data:
        prefix = f"{trace.name}: " if len(figure.data) > 1 else ""
        parts.append(prefix + "; ".join(_point_phrases(trace, _percent)))
    return "Rate per arm with its interval and count: " + " | ".join(parts) + ". The dashed line marks 0.5."


def _ranking_summary(figure: go.Figure) -> str:
    points = sorted(
        (int(extra[3]), phrase)
        for trace in figure.data
        for extra, phrase in zip(trace.customdata, _point_phrases(trace, lambda v: "—" if pd.isna(v) else f"{v:.2f}"))
    )
    real = [x for trace in figure.data if trace.name == "Real images" for x in trace.x]
    marked = f" The real arm ({', '.join(real)}) is drawn as a diamond." if real else ""
    return "Scores, best first, with intervals: " + "; ".join(phrase for _, phrase in points) + "." + marked


def _exposure_summary(figure: go.Figure) -> str:
    arms = [trace.name for trace in figure.data if trace.mode == "markers" and trace.legendgroup == trace.name]
    thresholds = [f"{trace.name.removesuffix(' threshold')} {trace.x[0]:.0f} ms"
                  for trace in figure.data if trace.name.endswith(" threshold")]
    text = f"Rate against exposure (log scale) for {', '.join(arms)}, with intervals and fitted curves."
    return text + (f" Thresholds: {'; '.join(thresholds)}." if thresholds else " No arm has a fitted threshold.")


def _time_summary(figure: go.Figure) -> str:
    answers, completions = (len(trace.y) for trace in figure.data)
    times = pd.to_datetime(pd.Series(figure.data[0].x)) if answers else None
    span = f" from {times.iloc[0]:%Y-%m-%d %H:%M} to {times.iloc[-1]:%Y-%m-%d %H:%M} UTC" if answers else ""
    return (f"{answers} answer{'s' if answers != 1 else ''} recorded{span}; "
            f"{completions} participant{'s' if completions != 1 else ''} completed.")
