"""Statistics engine: lagged correlations with p-values, BH correction and effect sizes (numpy only, no scipy)."""

from prodlens.stats.adjusted import AdjustedSeries
from prodlens.stats.core import bh_adjust, lagged_correlations, rankdata_columns
from prodlens.stats.correlate import (
    DEFAULT_LAGS,
    DEFAULT_PAIRS,
    POOLED,
    Scope,
    adjusted_pair,
    correlate,
    daily_scopes,
    input_version,
    non_working_days,
)
from prodlens.stats.special import betainc, correlation_pvalue, fisher_ci, pearson_pvalue

__all__ = [
    "AdjustedSeries",
    "Scope",
    "adjusted_pair",
    "daily_scopes",
    "non_working_days",
    "DEFAULT_LAGS",
    "DEFAULT_PAIRS",
    "POOLED",
    "bh_adjust",
    "betainc",
    "correlate",
    "correlation_pvalue",
    "fisher_ci",
    "input_version",
    "lagged_correlations",
    "pearson_pvalue",
    "rankdata_columns",
]
