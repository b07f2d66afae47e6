"""Results as files (CSV, Excel, Markdown, LaTeX), and the display formatting the results page shares.

``report_sections`` is the one description of the report's tables (title, columns, display rows,
method note); the Markdown, LaTeX and Excel exports and the page's newer tables all render from it.
"""
import io
import re
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from analysis import latex, raw_export, static_charts
from analysis.tables import MIN_REACTION_MS, SurveyResults

EM_DASH = "—"


# Display formatting: one place, so the page and the Markdown export read the same.


def format_percent(rate: float) -> str:
    return EM_DASH if _missing(rate) else f"{rate * 100:.1f} %"


def format_p_value(p: float) -> str:
    """0.148 for ordinary values, 1.2e-08 once three decimals would read as zero."""
    if _missing(p):
        return EM_DASH
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def format_interval(low: float, high: float) -> str:
    if _missing(low) or _missing(high):
        return EM_DASH
    return f"{low * 100:.1f}–{high * 100:.1f} %"


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def format_exposure(exposure_ms: float) -> str:
    return "unlimited" if _missing(exposure_ms) else f"{exposure_ms:g} ms"


def display_rows(table: pd.DataFrame) -> list[dict]:
    """The pairwise table's rows as display strings (counts stay integers).

    Timed surveys' tables have one block per exposure, and their rows say which.
    """
    timed = "exposure_ms" in table.columns
    return [
        {
            "arm_a": row.arm_a,
            "arm_b": row.arm_b,
            **({"exposure": format_exposure(row.exposure_ms)} if timed else {}),
            "n": int(row.n),
            "wins_a": int(row.wins_a),
            "wins_b": int(row.wins_b),
            "selection_rate_a": format_percent(row.selection_rate_a),
            "p_value": format_p_value(row.p_value),
            "p_holm": format_p_value(row.p_holm),
            "interval": format_interval(row.ci_low, row.ci_high),
            "wilson": format_interval(row.wilson_low, row.wilson_high),
        }
        for row in table.itertuples(index=False)
    ]


def real_fake_display_rows(table: pd.DataFrame) -> list[dict]:
    """The real/fake table's rows as display strings."""
    return [
        {
            "arm": row.arm,
            "images": row.images,
            "exposure": format_exposure(row.exposure_ms),
            "n": int(row.n),
            "judged_real": int(row.judged_real),
            "judged_real_rate": format_percent(row.judged_real_rate),
            "interval": format_interval(row.ci_low, row.ci_high),
            "accuracy": format_percent(row.accuracy),
            "error_rate": format_percent(row.error_rate),
            "p_above_chance": format_p_value(row.p_above_chance),
        }
        for row in table.itertuples(index=False)
    ]


def arms_display_rows(arms: pd.DataFrame | None) -> list[dict]:
    """The arms table as display strings: provenance, then the pooled rate of being judged more realistic."""
    if arms is None:
        return []
    return [
        {
            "arm": row.arm,
            "images": row.images,
            "model": row.model or EM_DASH,
            "iterations": format_iterations(row.iterations),
            "training_hours": format_hours(row.training_hours),
            "n": int(row.n),
            "preferred_rate": format_percent(row.preferred_rate),
            "interval": format_interval(row.ci_low, row.ci_high),
        }
        for row in arms.itertuples(index=False)
    ]


def ranking_display_rows(ranking: pd.DataFrame | None) -> list[dict]:
    """Bradley–Terry scores as display strings, best first."""
    if ranking is None:
        return []
    return [
        {"rank": int(row.rank), "arm": row.arm, "images": row.images, "score": f"{row.score:+.2f}",
         "interval": f"{row.score_low:+.2f} to {row.score_high:+.2f}", "n": int(row.n)}
        for row in ranking.itertuples(index=False)
    ]



def format_iterations(iterations) -> str:
    return EM_DASH if _missing(iterations) else f"{int(iterations):,}"


def format_hours(hours) -> str:
    return EM_DASH if _missing(hours) else f"{hours:.2f}"


def format_ms(value: float) -> str:
    return EM_DASH if _missing(value) else f"{value:,.0f} ms"


def format_ms_interval(low: float, high: float) -> str:
    if _missing(low) or _missing(high):
        return EM_DASH
    return f"{low:,.0f}–{high:,.0f} ms"


def format_count(value) -> int | str:
    return EM_DASH if _missing(value) else int(value)


def _text(value) -> str:
    return EM_DASH if _missing(value) or value == "" else str(value)


def format_yes_no(value) -> str:
    return EM_DASH if _missing(value) else ("yes" if value else "no")


def exposure_curve_display_rows(curves: pd.DataFrame | None) -> list[dict]:
    """Rate per arm and exposure (the points of the exposure curves) as display strings."""
    if curves is None:
        return []
    return [
        {"arm": row.arm, "images": row.images, "measure": row.measure, "exposure": format_exposure(row.exposure_ms),
         "n": format_count(row.n), "successes": format_count(row.successes), "rate": format_percent(row.rate),
         "interval": format_interval(row.ci_low, row.ci_high)}
        for row in curves.itertuples(index=False)
    ]


def threshold_display_rows(thresholds: pd.DataFrame | None) -> list[dict]:
    """Each arm's psychometric fit as display strings; ``note`` says why an arm has no threshold."""
    if thresholds is None:
        return []
    return [
        {"arm": row.arm, "images": row.images, "measure": row.measure, "threshold": format_ms(row.threshold_ms),
         "interval": format_ms_interval(row.threshold_low, row.threshold_high),
         "slope": EM_DASH if _missing(row.slope) else f"{row.slope:.2f}", "floor": format_percent(row.floor),
         "converged": format_yes_no(row.converged), "failed_rounds": format_count(row.failed_rounds),
         "note": "" if _missing(row.note) else str(row.note)}
        for row in thresholds.itertuples(index=False)
    ]


def hype_display_rows(hype: pd.DataFrame | None) -> list[dict]:
    """HYPE scores as display strings: HYPE∞ (an error rate) in %, HYPE_time in ms."""
    if hype is None:
        return []
    return [
        {"score": row.score, "arm": row.arm, "value": _hype_value(row.value, row.unit),
         "interval": _hype_interval(row.low, row.high, row.unit), "participants": format_count(row.participants),
         "n": format_count(row.n)}
        for row in hype.itertuples(index=False)
    ]


def _hype_value(value: float, unit: str) -> str:
    return format_ms(value) if unit == "ms" else format_percent(value)


def _hype_interval(low: float, high: float, unit: str) -> str:
    return format_ms_interval(low, high) if unit == "ms" else format_interval(low, high)


def matched_display_rows(matched: pd.DataFrame | None) -> list[dict]:
    """Arms at equal iterations or equal training time (the DCGAN-family study's table) as display strings."""
    if matched is None:
        return []
    return [
        {"comparison": row.comparison, "group": row.group, "arm": row.arm, "model": _text(row.model),
         "iterations": format_iterations(row.iterations), "training_hours": format_hours(row.training_hours),
         "measure": row.measure, "n": format_count(row.n), "rate": format_percent(row.rate),
         "interval": format_interval(row.ci_low, row.ci_high)}
        for row in matched.itertuples(index=False)
    ]


def position_bias_sentence(summary: dict) -> str | None:
    """Left/right bias of the clicks, with its exact test; None for surveys without sides."""
    bias = summary.get("position_bias")
    if bias is None or not bias.n:
        return None
    return (f"Position bias: the left image was chosen in {bias.left} of {bias.n} answers "
            f"({format_percent(bias.rate)}, {format_interval(bias.ci_low, bias.ci_high)}, "
            f"p = {format_p_value(bias.p_value)}, exact two-sided test against 50 %).")


def exclusion_sentences(summary: dict) -> list[str]:
    """One sentence per rule that decided which answers count, with what it removed."""
    return [
        f"Left out: {_count(exclusion.responses, 'response')} from {_count(exclusion.participants, 'participant')}"
        f" — {exclusion.rule}."
        for exclusion in summary["exclusions"]
    ] + (["Trials with invalid timing are counted (include_invalid)."] if summary.get("include_invalid") else [])


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def method_sentence(summary: dict) -> str:
    """How the table was computed and what it counts, in one paragraph."""
    if summary["kind"] == "real_fake":
        method = (f"Share of each arm's images judged real (for generated arms, the fool rate), with a "
                  f"{summary['interval']}; accuracy is the share of correct verdicts and the error rate the rest "
                  f"(on real and on generated images separately, row by row); p is an {summary['test']} "
                  f"on accuracy: one-sided. ")
    else:
        method = (f"Selection rate of arm A against arm B (A judged the more realistic), with an {summary['test']}, "
                  f"p-values adjusted by {summary['adjustment']}, and a {summary['interval']} and a "
                  f"{summary['second_interval']} for the rate. ")
        if summary["chooses_fake"]:
            method += "Participants were asked which image is fake; the image they did not pick counts as judged more realistic. "
    return (
        method
        + f"Counted: {_count(summary['responses_counted'], 'response')} ({summary['responses_scope']}) "
        f"from {_count(summary['participants_started'], 'participant')} started, "
        f"{summary['participants_completed']} completed."
    )


# The report's sections: one description that every export renders.


@dataclass(frozen=True)
class Column:
    key: str  # the display row's key
    header: str
    numeric: bool = False  # right-aligned


@dataclass(frozen=True)
class Section:
    slug: str  # names the LaTeX label (tab:<survey>-<slug>) and the Excel sheet
    title: str
    columns: list[Column]
    rows: list[dict]  # display rows: every column's key, as shown
    frame: pd.DataFrame  # the numbers behind the rows, at full precision (the Excel sheet)
    caption: str = ""  # how the numbers were computed
    notes: list[str] = field(default_factory=list)  # what else a reader needs: exclusions, fits that failed

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    @property
    def numeric(self) -> list[bool]:
        return [column.numeric for column in self.columns]

    @property
    def cells(self) -> list[list]:
        return [[row[column.key] for column in self.columns] for row in self.rows]

    @property
    def aligned_rows(self) -> list[list[tuple]]:
        """(value, numeric) per cell, for templates (which cannot index a row by a column's key)."""
        return [list(zip(cells, self.numeric)) for cells in self.cells]


def _columns(*specs: tuple) -> list[Column]:
    """Columns from (key, header) for text and (key, header, True) for numbers."""
    return [Column(*spec) for spec in specs]


def report_sections(results: SurveyResults) -> list[Section]:
    """The report's tables in reading order; tables without data are left out (the main table never is)."""
    return [
        _main_section(results),
        *_ranking_sections(results),
        *_arms_sections(results),
        *matched_sections(results),
        *exposure_sections(results),
        *hype_sections(results),
    ]


def _main_section(results: SurveyResults) -> Section:
    summary = results.summary
    if results.kind == "real_fake":
        title, columns, rows = "Real or generated", _real_fake_columns(summary), real_fake_display_rows(results.table)
    else:
        title, columns, rows = "Pairwise results", _pairwise_columns(results), display_rows(results.table)
    bias = position_bias_sentence(summary)
    return Section("results", title, columns, rows, _table_with_methods(results), method_sentence(summary),
                   [*exclusion_sentences(summary), *([bias] if bias else [])])


def _pairwise_columns(results: SurveyResults) -> list[Column]:
    interval = interval_header(results.summary)
    exposure = [("exposure", "Exposure", True)] if "exposure_ms" in results.table.columns else []
    return _columns(("arm_a", "Arm A"), ("arm_b", "Arm B"), *exposure, ("n", "n", True),
                    ("wins_a", "A preferred", True), ("wins_b", "B preferred", True), ("selection_rate_a", "A selection rate", True),
                    ("p_value", "p", True), ("p_holm", "p (Holm)", True), ("interval", interval, True),
                    ("wilson", f"Wilson {interval}", True))


def _real_fake_columns(summary: dict) -> list[Column]:
    return _columns(("arm", "Arm"), ("images", "Images"), ("exposure", "Exposure", True), ("n", "n", True),
                    ("judged_real", "Judged real", True), ("judged_real_rate", "Judged-real rate", True),
                    ("interval", interval_header(summary), True), ("accuracy", "Accuracy", True),
                    ("error_rate", "Error rate", True), ("p_above_chance", "p (one-sided)", True))


def _ranking_sections(results: SurveyResults) -> list[Section]:
    if _empty(results.ranking):
        return []
    columns = _columns(("rank", "Rank", True), ("arm", "Arm"), ("images", "Images"), ("score", "Score", True),
                       ("interval", interval_header(results.summary), True), ("n", "n", True))
    return [Section("ranking", "Ranking", columns, ranking_display_rows(results.ranking), results.ranking,
                    results.summary["ranking_method"] + ".")]


def _arms_sections(results: SurveyResults) -> list[Section]:
    if _empty(results.arms):
        return []
    columns = _columns(("arm", "Arm"), ("images", "Images"), ("model", "Model"), ("iterations", "Iterations", True),
                       ("training_hours", "Training hours", True), ("n", "n", True),
                       ("preferred_rate", "Judged more realistic", True),
                       ("interval", interval_header(results.summary), True))
    return [Section("arms", "Arms", columns, arms_display_rows(results.arms), results.arms,
                    "Each arm's rate pools all its comparisons; the pairwise table holds the tests.")]


def matched_sections(results: SurveyResults) -> list[Section]:
    """One table per comparison (equal iterations, equal training time), in the order the table gives them."""
    if _empty(results.matched):
        return []
    return [_matched_section(results, comparison, block)
            for comparison, block in results.matched.groupby("comparison", sort=False)]


def _matched_section(results: SurveyResults, comparison: str, block: pd.DataFrame) -> Section:
    columns = _columns(("group", "Group"), ("arm", "Arm"), ("model", "Model"), ("iterations", "Iterations", True),
                       ("training_hours", "Training hours", True), *_measure_column(block), ("n", "n", True),
                       ("rate", "Rate", True), ("interval", interval_header(results.summary), True))
    caption = (f"Generated arms side by side at {comparison}, as the DCGAN-family study reported them, "
               f"with a {results.summary['interval']}.{_measure_sentence(block)}")
    return Section(_slug(comparison), comparison[:1].upper() + comparison[1:], columns,
                   matched_display_rows(block), block, caption)


def exposure_sections(results: SurveyResults) -> list[Section]:
    """The exposure curves' points, then each arm's psychometric threshold."""
    return [*_curve_sections(results), *_threshold_sections(results)]


def _curve_sections(results: SurveyResults) -> list[Section]:
    curves = results.exposure_curves
    if _empty(curves):
        return []
    columns = _columns(("arm", "Arm"), ("images", "Images"), *_measure_column(curves), ("exposure", "Exposure", True),
                       ("n", "n", True), ("successes", "Successes", True), ("rate", "Rate", True),
                       ("interval", interval_header(results.summary), True))
    caption = f"Rate per arm at each exposure, with a {results.summary['interval']}.{_measure_sentence(curves)}"
    return [Section("exposure-curves", "Exposure curves", columns, exposure_curve_display_rows(curves), curves,
                    caption)]


def _threshold_sections(results: SurveyResults) -> list[Section]:
    thresholds = results.thresholds
    if _empty(thresholds):
        return []
    columns = _columns(("arm", "Arm"), ("images", "Images"), *_measure_column(thresholds),
                       ("threshold", "Threshold", True), ("interval", interval_header(results.summary), True),
                       ("slope", "Slope", True), ("floor", "Floor", True), ("converged", "Converged"),
                       ("failed_rounds", "Failed rounds", True))
    rows = threshold_display_rows(thresholds)
    caption = f"Psychometric fit per arm: {results.summary.get('curve_method', '')}.{_measure_sentence(thresholds)}"
    notes = [f"{row['arm']} ({row['measure']}): {row['note']}" for row in rows if row["note"]]
    return [Section("thresholds", "Thresholds", columns, rows, thresholds, caption, notes)]


def hype_sections(results: SurveyResults) -> list[Section]:
    hype = results.hype
    if _empty(hype):
        return []
    columns = _columns(("score", "Score"), ("arm", "Arm"), ("value", "Value", True),
                       ("interval", interval_header(results.summary), True),
                       ("participants", "Participants", True), ("n", "n", True))
    methods = results.summary.get("hype_methods", {})
    caption = " ".join(_sentence(methods[score]) for score in hype["score"].unique() if score in methods)
    return [Section("hype", "HYPE scores", columns, hype_display_rows(hype), hype, caption)]


def _measure_column(frame: pd.DataFrame) -> list[Column]:
    """A Measure column where rows measure different things; one measure is named under the table instead."""
    return _columns(("measure", "Measure")) if frame["measure"].nunique() > 1 else []


def _measure_sentence(frame: pd.DataFrame) -> str:
    measures = frame["measure"].unique()
    return f" Measure: {measures[0]}." if len(measures) == 1 else ""


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


def _empty(frame: pd.DataFrame | None) -> bool:
    return frame is None or frame.empty


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def page_sections(results: SurveyResults) -> dict[str, list[Section]]:
    """The newer tables for the results page (it lays out the main, ranking and arms tables itself)."""
    return {"matched_sections": matched_sections(results), "curve_sections": _curve_sections(results),
            "threshold_sections": _threshold_sections(results), "hype_sections": hype_sections(results)}


# Files.


def results_csv(results: SurveyResults) -> str:
    """The table at full precision, with columns naming the test and interval used."""
    return _table_with_methods(results).to_csv(index=False, lineterminator="\n")


def results_xlsx(results: SurveyResults) -> bytes:
    """A sheet per section at full precision, then the "about" sheet."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for section in report_sections(results):
            section.frame.to_excel(writer, sheet_name=section.slug[:31], index=False)
        _about_frame(results.summary).to_excel(writer, sheet_name="about", index=False)
    return buffer.getvalue()


def results_markdown(results: SurveyResults) -> str:
    summary = results.summary
    main, *others = report_sections(results)
    parts = [f"## {summary['survey_name']}: {main.title} ({summary['generated_at']:%Y-%m-%d})", *_markdown_body(main)]
    for section in others:
        parts += [f"### {section.title}", *_markdown_body(section)]
    return "\n\n".join(parts) + "\n"


def _markdown_body(section: Section) -> list[str]:
    notes = "\n".join([*([section.caption] if section.caption else []), *(f"- {note}" for note in section.notes)])
    return [markdown_table(section.headers, section.cells, section.numeric), *([notes] if notes else [])]


def results_latex(results: SurveyResults) -> str:
    """Every section as a booktabs ``table`` float, for ``\\input`` into a paper."""
    summary = results.summary
    floats = [
        latex.table(caption=f"{summary['survey_name']}: {section.title}. {section.caption}".strip(),
                    key=latex.label(summary["survey_slug"], section.slug), headers=section.headers,
                    numeric=section.numeric, rows=section.cells, notes=section.notes)
        for section in report_sections(results)
    ]
    return "\n".join([_latex_header(summary), *floats])


def _latex_header(summary: dict) -> str:
    software = ", ".join(f"{name} {version}" for name, version in raw_export.software_versions().items() if version)
    lines = [
        f"evalsite results: survey {summary['survey_name']} ({summary['survey_slug']}), "
        f"generated {summary['generated_at']:%Y-%m-%d %H:%M:%S} UTC",
        r"Needs \usepackage{booktabs} in the preamble; \input{this file} where the tables go.",
        r"A table wider than the text: wrap its tabular in \resizebox{\linewidth}{!}{...} (graphicx), or use table*.",
        f"Software: {software}",
    ]
    return "".join(f"% {' '.join(line.split())}\n" for line in lines)


def interval_header(summary: dict) -> str:
    # Short in the header: the sentence under the table names the method in full.
    return f"{summary['confidence'] * 100:g} % CI"


def markdown_table(headers: list[str], rows: list[list], numeric: list[bool]) -> str:
    """A GitHub pipe table; ``numeric`` columns are right-aligned."""
    alignment = ["---:" if is_numeric else "---" for is_numeric in numeric]
    lines = [headers, alignment, *rows]
    return "\n".join("| " + " | ".join(_markdown_cell(cell) for cell in line) + " |" for line in lines)


def _markdown_cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table_with_methods(results: SurveyResults) -> pd.DataFrame:
    summary = results.summary
    names = {"test": summary["test"], "interval": summary["interval"], "wilson_interval": summary["second_interval"],
             "adjustment": summary["adjustment"]}
    return results.table.assign(**{column: name for column, name in names.items() if name})


def _about_frame(summary: dict) -> pd.DataFrame:
    facts = [
        ("survey", summary["survey_name"]),
        ("survey slug", summary["survey_slug"]),
        ("exported at (UTC)", summary["generated_at"].strftime("%Y-%m-%d %H:%M:%S")),
        ("participants started", summary["participants_started"]),
        ("participants completed", summary["participants_completed"]),
        ("responses counted", summary["responses_counted"]),
        ("responses counted are", summary["responses_scope"]),
        ("test", summary["test"]),
        ("interval", summary["interval"]),
        *((("second interval", summary["second_interval"]), ("adjustment", summary["adjustment"]))
          if summary["second_interval"] else ()),
        *((f"left out: {exclusion.rule}", f"{exclusion.responses} responses, {exclusion.participants} participants")
          for exclusion in summary["exclusions"]),
        ("trials with invalid timing", "counted" if summary.get("include_invalid") else "left out"),
        ("minimum reaction time (ms; 0 = no speed rules)", summary.get("min_reaction_ms", MIN_REACTION_MS)),
    ]
    return pd.DataFrame(facts, columns=["field", "value"])


@dataclass(frozen=True)
class ExportFormat:
    extension: str
    content_type: str
    render: Callable[[SurveyResults], str | bytes]


EXPORT_FORMATS = {
    "csv": ExportFormat("csv", "text/csv; charset=utf-8", results_csv),
    "xlsx": ExportFormat("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", results_xlsx),
    "md": ExportFormat("md", "text/markdown; charset=utf-8", results_markdown),
    "tex": ExportFormat("tex", "application/x-tex; charset=utf-8", results_latex),
    # Built from the survey itself, not from SurveyResults: render(survey, **CountingOptions(...).as_kwargs()).
    "raw": raw_export.RAW,
    "manifest": raw_export.MANIFEST,
    "charts": static_charts.CHARTS,  # every chart as SVG and PNG, zipped (needs Chromium)
}


def export_filename(summary: dict, fmt: str) -> str:
    stem = getattr(EXPORT_FORMATS[fmt], "stem", "results")
    return f"{summary['survey_slug']}-{stem}.{EXPORT_FORMATS[fmt].extension}"
