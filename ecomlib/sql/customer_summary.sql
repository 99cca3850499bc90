-- Customer summary (RFM/T): per customer, purchase days, first and last purchase day and the value of the repeat
-- purchase days — the SQL form of ecomlib.ltv.customer_summary (lifetimes' summary_data_from_transaction_data).
-- Counted orders only (status completed or partially_refunded), of known customers, placed before `stop` (the
-- day after the observation end, or the review period's end if earlier); revenue as recorded ("gross") or less the
-- order's refunds in `returns`, never below 0 ("net"), as ecomlib.contract.order_revenue. Orders on the same
-- calendar day are one purchase, their revenue summed. Day numbers count days since 1970-01-01. One row per
-- customer; the wrapper (ltv.customer_summary_on) turns the days into frequency, recency, T and monetary_value.
{% from "_revenue.sql" import refunds_cte, revenue, counted_orders %}
WITH
{{ refunds_cte(basis) }}
counted AS (
    SELECT o.customer_id,
           date_diff('day', DATE '1970-01-01', CAST(o.order_time AS DATE)) AS day,
           {{ revenue(basis) }} AS revenue
{{ counted_orders(basis, statuses) }}
      AND o.order_time < {{ stop | lit }}
),
purchase_days AS (
    SELECT customer_id, day, sum(revenue) AS value
    FROM counted
    GROUP BY customer_id, day
),
firsts AS (
    SELECT customer_id, day, value, min(day) OVER (PARTITION BY customer_id) AS first_day
    FROM purchase_days
)
SELECT customer_id,
       count(*) AS purchase_days,
       min(day) AS first_day,
       max(day) AS last_day,
       sum(CASE WHEN day > first_day THEN value ELSE 0.0 END) AS repeat_value
FROM firsts
GROUP BY customer_id
