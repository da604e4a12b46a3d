-- One verdict per repo (and * for all repos pooled), as `prodlens report` opens with:
-- 'too_little_data' when the two daily tables overlap on fewer than 56 days (8 weeks) or no row has
-- n_eff >= 30; else 'link' when some row has adj_p_adj < 0.05 (the strongest row is shown); else
-- 'no_evidence' (no link after adjusting for the weekly rhythm and trends).
WITH spans AS (
  SELECT 'session' AS side, repo, min(date(event_date)) AS first_day, max(date(event_date)) AS last_day
  FROM daily_session_metrics GROUP BY repo
  UNION ALL
  SELECT 'session', '*', min(date(event_date)), max(date(event_date)) FROM daily_session_metrics
  UNION ALL
  SELECT 'github', repo, min(date(event_date)), max(date(event_date)) FROM daily_github_metrics GROUP BY repo
  UNION ALL
  SELECT 'github', '*', min(date(event_date)), max(date(event_date)) FROM daily_github_metrics
),
overlap AS (
  SELECT s.repo,
    greatest(date_diff('day', greatest(s.first_day, g.first_day), least(s.last_day, g.last_day)) + 1, 0)
      AS overlap_days
  FROM spans s JOIN spans g ON s.repo = g.repo AND s.side = 'session' AND g.side = 'github'
),
ranked AS (
  SELECT c.*,
    row_number() OVER (
      PARTITION BY repo
      ORDER BY adj_p_adj ASC NULLS LAST, abs(adj_r) DESC NULLS LAST, x_metric, y_metric, lag_days
    ) AS strength_rank,
    max(n_eff) OVER (PARTITION BY repo) AS max_n_eff
  FROM correlations c
)
SELECT
  r.repo,
  CASE
    WHEN coalesce(o.overlap_days, 0) < 56 OR coalesce(r.max_n_eff, 0) < 30 THEN 'too_little_data'
    WHEN r.adj_p_adj < 0.05 THEN 'link'
    ELSE 'no_evidence'
  END AS verdict,
  coalesce(o.overlap_days, 0) AS overlap_days,
  r.max_n_eff,
  r.x_metric, r.y_metric, r.lag_days, r.adj_r, r.adj_ci_low, r.adj_ci_high, r.n_eff, r.adj_p_adj
FROM ranked r
LEFT JOIN overlap o ON o.repo = r.repo
WHERE r.strength_rank = 1
ORDER BY CASE WHEN r.repo = '*' THEN 0 ELSE 1 END, r.repo
