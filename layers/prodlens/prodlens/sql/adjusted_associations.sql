-- Calendar-adjusted associations that survive Benjamini-Hochberg correction (adj_p_adj < 0.05), strongest
-- first, with the raw figures beside them. adj_r removes day of week, non-working days and weekly levels;
-- n_eff is the number of independent days left once autocorrelation is accounted for.
SELECT
  repo, x_metric, y_metric, lag_days,
  adj_r, adj_ci_low, adj_ci_high, adj_p, adj_p_adj, n_eff,
  pearson_r AS raw_pearson_r, pearson_p_adj AS raw_pearson_p_adj, n, window_start, window_end
FROM correlations
WHERE adj_p_adj < 0.05
ORDER BY adj_p_adj, abs(adj_r) DESC, repo, x_metric, y_metric, lag_days
