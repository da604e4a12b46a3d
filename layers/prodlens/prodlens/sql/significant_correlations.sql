-- Unadjusted (raw) associations that survive Benjamini-Hochberg correction, strongest first: descriptive
-- only, they mostly measure the weekly rhythm and shared trends; adjusted_associations is the answer.
SELECT
  repo, x_metric, y_metric, lag_days, n,
  pearson_r, pearson_p_adj, spearman_rho, spearman_p_adj, low_sample, window_start, window_end
FROM correlations
WHERE pearson_p_adj < 0.05 OR spearman_p_adj < 0.05
ORDER BY LEAST(COALESCE(pearson_p_adj, 1.0), COALESCE(spearman_p_adj, 1.0)), abs(pearson_r) DESC
