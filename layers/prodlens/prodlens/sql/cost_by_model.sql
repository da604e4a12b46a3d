-- AI spend and tokens per model and repo over the last 30 days of traces.
SELECT
  repo, model,
  count(*) AS requests,
  sum(total_tokens) AS total_tokens,
  sum(cost_usd) AS cost_usd,
  count_if(cost_source = 'unpriced') AS unpriced_requests
FROM traces
WHERE event_date >= (SELECT date_format(date_add('day', -29, CAST(max(event_date) AS date)), '%Y-%m-%d') FROM traces)
GROUP BY repo, model
ORDER BY cost_usd DESC NULLS LAST
