-- Cohort matrix: per acquisition cohort and period number, the cohort's size, its active customers, orders and
-- revenue — the SQL form of the counts and sums of ecomlib.cohorts.cohort_table (without `by`).
-- Counted orders only (status completed or partially_refunded), of known customers, placed before `end` when
-- given; revenue as recorded ("gross") or less the order's refunds in `returns`, never below
-- 0 ("net"), as ecomlib.contract.order_revenue. A customer's cohort is the period of their first counted order;
-- periods are calendar months (code year * 12 + month - 1) or ISO weeks (code: whole weeks since Monday
-- 1970-01-05) and period_number = order's period code - cohort code. One row per cohort and period with orders;
-- last_time is the latest counted order (the data cut-off when `end` is not given). The wrapper
-- (cohorts.cohort_table_on) adds the empty periods, labels, rates, intervals and cumulative revenue.
{% from "_revenue.sql" import refunds_cte, revenue, counted_orders %}
WITH
{{ refunds_cte(basis) }}
counted AS (
    SELECT o.customer_id,
           o.order_time AS t,
{% if freq == "M" %}
           CAST(year(o.order_time) * 12 + month(o.order_time) - 1 AS BIGINT) AS code,
{% else %}
           CAST(floor(date_diff('day', DATE '1970-01-05', CAST(o.order_time AS DATE)) / 7.0) AS BIGINT) AS code,
{% endif %}
           {{ revenue(basis) }} AS revenue
{{ counted_orders(basis, statuses) }}
{% if end is not none %}
      AND o.order_time < {{ end | lit }}
{% endif %}
),
cohort_of AS (
    SELECT customer_id, min(code) AS cohort_code
    FROM counted
    GROUP BY customer_id
),
sizes AS (
    SELECT cohort_code, count(*) AS cohort_size
    FROM cohort_of
    GROUP BY cohort_code
),
activity AS (
    SELECT f.cohort_code, c.code - f.cohort_code AS period_number,
           count(DISTINCT c.customer_id) AS active_customers, count(*) AS orders, sum(c.revenue) AS revenue
    FROM counted c
    JOIN cohort_of f ON f.customer_id = c.customer_id
    GROUP BY f.cohort_code, c.code - f.cohort_code
),
bounds AS (
    SELECT max(t) AS last_time FROM counted
)
SELECT a.cohort_code, a.period_number, s.cohort_size, a.active_customers, a.orders, a.revenue, b.last_time
FROM activity a
JOIN sizes s ON s.cohort_code = a.cohort_code
CROSS JOIN bounds b
