-- Daily AI use next to delivery outcomes, per repo, for the last 30 days with data.
SELECT
  COALESCE(s.event_date, g.event_date) AS event_date,
  COALESCE(s.repo, g.repo) AS repo,
  COALESCE(s.request_count, 0) AS ai_requests,
  COALESCE(s.session_count, 0) AS ai_sessions,
  COALESCE(s.total_tokens, 0) AS ai_tokens,
  COALESCE(s.cost_usd, 0) AS ai_cost_usd,
  COALESCE(g.commit_count, 0) AS commits,
  COALESCE(g.merged_pr_count, 0) AS merged_prs,
  g.median_merge_hours
FROM daily_session_metrics s
FULL OUTER JOIN daily_github_metrics g
  ON s.event_date = g.event_date AND s.repo = g.repo
WHERE COALESCE(s.event_date, g.event_date) >= (
  SELECT date_format(date_add('day', -29, CAST(max(event_date) AS date)), '%Y-%m-%d') FROM daily_session_metrics
)
ORDER BY event_date, repo
