-- Return rates by group (ecomlib.returns.return_rates with reason=None), defined once for SQL engines.
-- Mirrors what returns.compute passes in: sold = returns.sold_lines (order lines of orders whose status counts as
-- sold, with the product's columns) of the sales window [start, stop) and before as_of; returned =
-- returns.return_lines(..., as_of) matched to those lines on (order_id, sku). A line's returns count up to its
-- units sold (units_returned = min(units returned, units sold) per line, the sum return_lines' earliest-first
-- capping gives whatever the order of the returns); the rest is units_over_returned. Groups with a NULL key are
-- left out (pandas groupby dropna); inside, they are key_<i> (a key may be a column of the line itself). One row per
-- group that sold; Python adds the rates and Wilson intervals.
WITH
sold AS (
    SELECT i.order_id, i.sku, i.quantity
{% for alias, expr in columns %}
         , {{ expr }} AS key_{{ loop.index0 }}
{% endfor %}
    FROM order_items i
    JOIN orders o ON o.order_id = i.order_id
{% if products %}
    LEFT JOIN products p ON p.sku = i.sku
{% endif %}
    WHERE o.status IN ({{ statuses | map('lit') | join(', ') }})
      AND o.order_time >= {{ start | lit }} AND o.order_time < {{ stop | lit }}
      AND o.order_time < {{ as_of | lit }}
),
{% if has_returns %}
per_line AS (
    SELECT r.order_id, r.sku, sum(r.quantity) AS q, sum(r.refund_amount) AS refund
    FROM returns r
    WHERE r.returned_at < {{ as_of | lit }}
    GROUP BY r.order_id, r.sku
),
{% else %}
per_line AS (
    SELECT CAST(NULL AS VARCHAR) AS order_id, CAST(NULL AS VARCHAR) AS sku, CAST(NULL AS BIGINT) AS q,
           CAST(NULL AS DOUBLE) AS refund
    WHERE 1 = 0
),
{% endif %}
lines AS (
    SELECT s.*, r.q, r.refund, CASE WHEN r.q < s.quantity THEN r.q ELSE s.quantity END AS counted
    FROM sold s
    LEFT JOIN per_line r ON r.order_id = s.order_id AND r.sku = s.sku
)
SELECT
{% for alias, expr in columns %}
    key_{{ loop.index0 }} AS {{ alias | ident }},
{% endfor %}
    CAST(sum(quantity) AS BIGINT) AS units_sold,
    count(DISTINCT order_id) AS orders,
    CAST(coalesce(sum(CASE WHEN q IS NOT NULL THEN counted END), 0) AS BIGINT) AS units_returned,
    count(DISTINCT CASE WHEN q IS NOT NULL THEN order_id END) AS orders_returned,
    coalesce(sum(refund), 0.0) AS refund_amount,
    CAST(coalesce(sum(q - counted), 0) AS BIGINT) AS units_over_returned
FROM lines
{% if columns %}
WHERE {% for alias, expr in columns %}key_{{ loop.index0 }} IS NOT NULL{{ " AND " if not loop.last }}{% endfor %}

GROUP BY {% for alias, expr in columns %}key_{{ loop.index0 }}{{ ", " if not loop.last }}{% endfor %}

{% else %}
HAVING count(*) > 0
{% endif %}
