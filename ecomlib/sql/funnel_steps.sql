-- Closed funnel: step reach and time between steps (ecomlib.funnel.step_conversion), defined once for SQL engines.
-- A unit enters at its first {{ steps[0] }} event in [start, end); step k is reached at the earliest step-k event
-- at or after step k-1's time and within window_us microseconds of the entry (events at the same instant count as
-- after). Grouping columns take their value on the entry event. One row per group; Python adds the rates.
-- Shape (for speed): each step carries the entry time, the window's end and the grouping columns of the unit
-- from the step before, so the steps are UNION ALLed and counted in one aggregation — no join back to the
-- entries, no path rebuilt per unit; the window is a bound on the event time (the index of the join's range).
-- count_events: ev keeps every event of [start, stop) and rows_scanned counts them (the events the query read,
-- for the page footer) from the same scan instead of a second query.
WITH
{% if returning_before is not none %}
known_buyers AS (
    SELECT DISTINCT customer_id
    FROM orders
    WHERE status = 'completed' AND order_time < {{ returning_before | lit }} AND customer_id IS NOT NULL
),
{% endif %}
ev AS (
    SELECT e.{{ unit | ident }} AS unit, e.event_time AS t, e.event_name AS name
{% for alias, expr in columns %}
         , {{ expr }} AS {{ alias | ident }}
{% endfor %}
    FROM events e
{% if returning_before is not none %}
    LEFT JOIN known_buyers r ON e.user_id = r.customer_id
{% endif %}
    WHERE e.event_time >= {{ start | lit }} AND e.event_time < {{ stop | lit }}
{% if not count_events %}
      AND e.event_name IN ({{ steps | map('lit') | join(', ') }})
{% endif %}
),
entries AS (
    SELECT unit, min(t) AS t0
{% for alias, expr in columns %}
         , arg_min({{ alias | ident }}, t) AS {{ alias | ident }}
{% endfor %}
    FROM ev
    WHERE name = {{ steps[0] | lit }} AND unit IS NOT NULL
    GROUP BY unit
    HAVING min(t) < {{ end | lit }}
),
s0 AS (
    SELECT unit, t0 AS t, t0 + INTERVAL {{ window_us }} MICROSECOND AS t_last
{% for alias, expr in columns %}
         , {{ alias | ident }}
{% endfor %}
    FROM entries
{% if exclude_days %}
    WHERE CAST(t0 AS DATE) NOT IN ({% for d in exclude_days %}DATE {{ d | lit }}{{ ", " if not loop.last }}{% endfor %})
{% endif %}
),
{% for k in range(1, steps | length) %}
s{{ k }} AS (
    SELECT p.unit, any_value(p.t_last) AS t_last, any_value(p.t) AS t_prev, min(e.t) AS t
{% for alias, expr in columns %}
         , any_value(p.{{ alias | ident }}) AS {{ alias | ident }}
{% endfor %}
    FROM s{{ k - 1 }} p
    JOIN ev e ON e.unit = p.unit AND e.name = {{ steps[k] | lit }} AND e.t >= p.t AND e.t <= p.t_last
    GROUP BY p.unit
),
{% endfor %}
reached AS (
    SELECT 0 AS k, CAST(NULL AS DOUBLE) AS seconds
{% for alias, expr in columns %}
         , {{ alias | ident }}
{% endfor %}
    FROM s0
{% for k in range(1, steps | length) %}
    UNION ALL
    SELECT {{ k }}, date_diff('microsecond', t_prev, t) / 1e6
{% for alias, expr in columns %}
         , {{ alias | ident }}
{% endfor %}
    FROM s{{ k }}
{% endfor %}
)
SELECT
{% for alias, expr in columns %}
    {{ alias | ident }},
{% endfor %}
{% if count_events %}
    any_value(rows_scanned) AS rows_scanned,
{% endif %}
    count(CASE WHEN k = 0 THEN 1 END) AS units_0
{% for k in range(1, steps | length) %}
  , count(CASE WHEN k = {{ k }} THEN 1 END) AS units_{{ k }}
  , percentile_cont(0.5) WITHIN GROUP (ORDER BY CASE WHEN k = {{ k }} THEN seconds END) AS median_{{ k }}
  , percentile_cont(0.9) WITHIN GROUP (ORDER BY CASE WHEN k = {{ k }} THEN seconds END) AS p90_{{ k }}
{% endfor %}
FROM reached{{ ", (SELECT count(*) AS rows_scanned FROM ev) n" if count_events }}
{% if columns %}
GROUP BY {% for alias, expr in columns %}{{ alias | ident }}{{ ", " if not loop.last }}{% endfor %}

{% endif %}
