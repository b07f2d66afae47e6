"""Results as files (CSV, Excel, Markdown), and the display formatting the results page shares."""
import io
import math
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from analysis import raw_export
from analysis.tables import SurveyResults

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
    return value is None or (isinstance(value, float) and math.isnan(value))


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
            "iterations": EM_DASH if _missing(row.iterations) else f"{int(row.iterations):,}",
            "training_hours": EM_DASH if _missing(row.training_hours) else f"{row.training_hours:.2f}",
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


# Files.


def results_csv(results: SurveyResults) -> str:
    """The table at full precision, with columns naming the test and interval used."""
    return _table_with_methods(results).to_csv(index=False, lineterminator="\n")


def results_xlsx(results: SurveyResults) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        _table_with_methods(results).to_excel(writer, sheet_name="results", index=False)
        if results.arms is not None:
            results.arms.to_excel(writer, sheet_name="arms", index=False)
        _about_frame(results.summary).to_excel(writer, sheet_name="about", index=False)
    return buffer.getvalue()


def results_markdown(results: SurveyResults) -> str:
    summary = results.summary
    if results.kind == "real_fake":
        headers = ["Arm", "Images", "Exposure", "n", "Judged real", "Judged-real rate", interval_header(summary), "Accuracy",
                   "Error rate", "p (one-sided)"]
        rows = [list(row.values()) for row in real_fake_display_rows(results.table)]
        numeric_from, what = 3, "real or generated"
    else:
        timed = "exposure_ms" in results.table.columns
        headers = ["Arm A", "Arm B", *(["Exposure"] if timed else []), "n", "A preferred", "B preferred",
                   "A selection rate", "p", "p (Holm)", interval_header(summary), f"Wilson {interval_header(summary)}"]
        rows = [list(row.values()) for row in display_rows(results.table)]
        numeric_from, what = (3 if timed else 2), "pairwise results"
    title = f"## {summary['survey_name']}: {what} ({summary['generated_at']:%Y-%m-%d})"
    bias = position_bias_sentence(summary)
    notes = "\n".join([method_sentence(summary), *(f"- {line}" for line in exclusion_sentences(summary)),
                       *([f"- {bias}"] if bias else [])])
    parts = [title, markdown_table(headers, rows, numeric_from=numeric_from), notes]
    if results.ranking is not None and not results.ranking.empty:
        ranking_rows = [list(row.values()) for row in ranking_display_rows(results.ranking)]
        parts += ["### Ranking", markdown_table(["Rank", "Arm", "Images", "Score", interval_header(summary), "n"],
                                                ranking_rows, numeric_from=3), summary["ranking_method"] + "."]
    if results.arms is not None:
        arm_headers = ["Arm", "Images", "Model", "Iterations", "Training hours", "n", "Judged more realistic",
                       interval_header(summary)]
        arm_rows = [list(row.values()) for row in arms_display_rows(results.arms)]
        parts += ["### Arms", markdown_table(arm_headers, arm_rows, numeric_from=3)]
    return "\n\n".join(parts) + "\n"


def interval_header(summary: dict) -> str:
    # Short in the header: the sentence under the table names the method in full.
    return f"{summary['confidence'] * 100:g} % CI"


def markdown_table(headers: list[str], rows: list[list], numeric_from: int) -> str:
    """A GitHub pipe table; columns from ``numeric_from`` on are right-aligned."""
    alignment = ["---" if i < numeric_from else "---:" for i in range(len(headers))]
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
    # Built from the survey itself, not from SurveyResults: render(survey, completed_only=..., include_invalid=...).
    "raw": raw_export.RAW,
    "manifest": raw_export.MANIFEST,
}


def export_filename(summary: dict, fmt: str) -> str:
    stem = getattr(EXPORT_FORMATS[fmt], "stem", "results")
    return f"{summary['survey_slug']}-{stem}.{EXPORT_FORMATS[fmt].extension}"
