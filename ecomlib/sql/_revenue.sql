{#- The kit's one revenue definition (ecomlib.contract.order_revenue) for the reductions that sum order revenue:
    counted orders (the given statuses) of known customers, revenue as recorded ("gross") or less the order's
    refunds in `returns`, never below 0 ("net"). Imported by customer_summary.sql and cohort_matrix.sql. -#}

{% macro refunds_cte(basis) -%}
{% if basis == "net" %}
refunds AS (
    SELECT order_id, sum(refund_amount) AS refund
    FROM returns
    GROUP BY order_id
),
{% endif %}
{%- endmacro %}

{% macro revenue(basis) -%}
{% if basis == "net" %}greatest(CAST(o.revenue AS DOUBLE) - coalesce(r.refund, 0.0), 0.0){% else %}CAST(o.revenue AS DOUBLE){% endif %}
{%- endmacro %}

{% macro counted_orders(basis, statuses) -%}
    FROM orders o
{% if basis == "net" %}
    LEFT JOIN refunds r ON r.order_id = o.order_id
{% endif %}
    WHERE o.status IN ({{ statuses | map('lit') | join(', ') }})
      AND o.customer_id IS NOT NULL
{%- endmacro %}
