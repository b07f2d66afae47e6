"""Sample frames for the newer results tables (exposure curves, thresholds, HYPE, matched), with known values.

They follow tables.*_COLUMNS exactly, so the exports can be tested apart from how the tables are computed.
"""
import dataclasses
import math

import pandas as pd

from analysis import stats, tables


def curves_frame(arm: str = "gan") -> pd.DataFrame:
    rows = [(arm, "generated", "real preferred", 125.0, 40, 22, 0.55, 0.385, 0.707),
            (arm, "generated", "real preferred", 1000.0, 40, 34, 0.85, 0.702, 0.943)]
    return pd.DataFrame(rows, columns=tables.EXPOSURE_CURVE_COLUMNS)


def thresholds_frame(arm: str = "gan") -> pd.DataFrame:
    rows = [(arm, "generated", "real preferred", 412.3, 300.1, 1560.9, 2.314, 0.5, True, 0, ""),
            ("flat", "generated", "real preferred", math.nan, math.nan, math.nan, math.nan, 0.5, False, 0,
             "every trial succeeded at every exposure: nothing to fit")]
    return pd.DataFrame(rows, columns=tables.THRESHOLD_COLUMNS)


def hype_frame(arm: str = "gan") -> pd.DataFrame:
    rows = [(tables.HYPE_INFINITY, arm, 0.273, 0.214, 0.331, "error rate", 10, 400),
            (tables.HYPE_TIME, arm, 368.4, 310.2, 1420.7, "ms", 10, 300)]
    return pd.DataFrame(rows, columns=tables.HYPE_COLUMNS)


def matched_frame(arm: str = "dcgan") -> pd.DataFrame:
    measure = "judged more realistic"
    rows = [("equal iterations", "6,000 iterations", arm, "dcgan", 6000, 113.8, measure, 300, 0.493, 0.435, 0.551),
            ("equal iterations", "6,000 iterations", "multi-stage", "progressive", 6000, 75.2, measure, 300, 0.508,
             0.450, 0.566),
            ("equal training time", "≈ 75.60 h", arm, "dcgan", 4000, 76.0, measure, 300, 0.231, 0.184, 0.283),
            ("equal training time", "≈ 75.60 h", "multi-stage", "progressive", 6000, 75.2, measure, 300, 0.769,
             0.717, 0.816)]
    return pd.DataFrame(rows, columns=tables.MATCHED_COLUMNS)


def with_every_table(results: tables.SurveyResults, arm: str = "gan") -> tables.SurveyResults:
    """``results`` with all four newer tables filled (``arm`` labelling their first arm) and their methods named."""
    methods = {tables.HYPE_INFINITY: stats.HYPE_INFINITY_NAME, tables.HYPE_TIME: stats.hype_time_name()}
    summary = {**results.summary, "curve_method": stats.psychometric_bootstrap_name(), "hype_methods": methods}
    return dataclasses.replace(results, summary=summary, exposure_curves=curves_frame(arm),
                               thresholds=thresholds_frame(arm), hype=hype_frame(arm), matched=matched_frame(arm))


def with_no_new_table(results: tables.SurveyResults) -> tables.SurveyResults:
    """``results`` with the newer tables empty (as a survey without the data for them has)."""
    return dataclasses.replace(
        results, exposure_curves=pd.DataFrame(columns=tables.EXPOSURE_CURVE_COLUMNS),
        thresholds=pd.DataFrame(columns=tables.THRESHOLD_COLUMNS), hype=pd.DataFrame(columns=tables.HYPE_COLUMNS),
        matched=pd.DataFrame(columns=tables.MATCHED_COLUMNS))
