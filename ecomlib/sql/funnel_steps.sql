-- Closed funnel: step reach and time between steps (ecomlib.funnel.step_conversion), defined once for SQL engines.
-- A unit enters at its first {{ steps[0] }} event in [start, end); step k is reached at the earliest step-k event
-- at or after step k-1's time and within window_us microseconds of the entry (events at the same instant count as
-- after). Grouping columns take their value on the entry event. One row per group; Python adds the rates.
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
    WHERE e.event_name IN ({{ steps | map('lit') | join(', ') }})
      AND e.event_time >= {{ start | lit }} AND e.event_time < {{ stop | lit }}
      AND e.{{ unit | ident }} IS NOT NULL
),
s0 AS (
    SELECT unit, min(t) AS t0
{% for alias, expr in columns %}
         , arg_min({{ alias | ident }}, t) AS {{ alias | ident }}
{% endfor %}
    FROM ev
    WHERE name = {{ steps[0] | lit }}
    GROUP BY unit
    HAVING min(t) < {{ end | lit }}
),
{% for k in range(1, steps | length) %}
r{{ k }} AS (
    SELECT p.unit, min(e.t) AS t{{ k }}
    FROM s{{ k - 1 }} p
    JOIN ev e ON e.unit = p.unit AND e.name = {{ steps[k] | lit }}
     AND e.t >= p.t{{ k - 1 }} AND date_diff('microsecond', p.t0, e.t) <= {{ window_us }}
    GROUP BY p.unit
),
s{{ k }} AS (
    SELECT r.unit, p.t0, r.t{{ k }} FROM s{{ k - 1 }} p JOIN r{{ k }} r ON r.unit = p.unit
),
{% endfor %}
paths AS (
    SELECT s0.*
{% for k in range(1, steps | length) %}
         , r{{ k }}.t{{ k }}
{% endfor %}
    FROM s0
{% for k in range(1, steps | length) %}
    LEFT JOIN r{{ k }} ON r{{ k }}.unit = s0.unit
{% endfor %}
{% if exclude_days %}
    WHERE CAST(s0.t0 AS DATE) NOT IN ({% for d in exclude_days %}DATE {{ d | lit }}{{ ", " if not loop.last }}{% endfor %})
{% endif %}
)
SELECT
{% for alias, expr in columns %}
    {{ alias | ident }},
{% endfor %}
    count(*) AS units_0
{% for k in range(1, steps | length) %}
  , count(t{{ k }}) AS units_{{ k }}
  , percentile_cont(0.5) WITHIN GROUP (ORDER BY date_diff('microsecond', t{{ k - 1 }}, t{{ k }}) / 1e6) AS median_{{ k }}
  , percentile_cont(0.9) WITHIN GROUP (ORDER BY date_diff('microsecond', t{{ k - 1 }}, t{{ k }}) / 1e6) AS p90_{{ k }}
{% endfor %}
FROM paths
{% if columns %}
GROUP BY {% for alias, expr in columns %}{{ alias | ident }}{{ ", " if not loop.last }}{% endfor %}

{% endif %}
