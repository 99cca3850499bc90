-- Supplier delivery KPIs by group (ecomlib.suppliers.supplier_kpis over ecomlib.suppliers.delivery_lines), defined
-- once for SQL engines. delivery_lines as of as_of: lines ordered before as_of; shipments received at or after it
-- count as not received (received_at, qty_received, qty_rejected, unit_cost_invoiced emptied); exact duplicate rows
-- dropped; shipments of one (po_id, sku) merged (ordered/promised at the earliest, received at the last, quantities
-- summed, invoiced cost weighted by the units received). supplier_kpis: the lines promised in [start, stop), per
-- group: counts, unit and money sums, lead-time and lateness statistics. One row per group (one row overall, even
-- when empty); Python adds the rates, Wilson intervals and money at stake.
WITH
po AS (
    SELECT DISTINCT po_id, supplier_id, sku, ordered_at, promised_at,
           CASE WHEN received_at >= {{ as_of | lit }} THEN NULL ELSE received_at END AS received_at,
           qty_ordered,
           CASE WHEN received_at >= {{ as_of | lit }} THEN NULL ELSE qty_received END AS qty_received,
           CASE WHEN received_at >= {{ as_of | lit }} THEN NULL ELSE qty_rejected END AS qty_rejected,
           unit_cost_agreed,
           CASE WHEN received_at >= {{ as_of | lit }} THEN NULL ELSE unit_cost_invoiced END AS unit_cost_invoiced
    FROM purchase_orders
    WHERE ordered_at < {{ as_of | lit }}
),
merged AS (
    SELECT po_id, sku, min(supplier_id) AS supplier_id, min(ordered_at) AS ordered_at,
           min(promised_at) AS promised_at, max(received_at) AS received_at, max(qty_ordered) AS qty_ordered,
           sum(CAST(qty_received AS DOUBLE)) AS qty_received, sum(CAST(qty_rejected AS DOUBLE)) AS qty_rejected,
           min(unit_cost_agreed) AS unit_cost_agreed,
           CASE WHEN count(*) = 1 THEN min(CAST(unit_cost_invoiced AS DOUBLE))
                ELSE sum(qty_received * unit_cost_invoiced)
                     / CASE WHEN sum(qty_received) > 0 THEN sum(CAST(qty_received AS DOUBLE)) END END
               AS unit_cost_invoiced
    FROM po
    GROUP BY po_id, sku
),
timed AS (
    SELECT *,
           received_at IS NOT NULL AS rec,
           received_at IS NOT NULL AND qty_ordered > 0 AND qty_received IS NOT NULL AS qty_ok,
           date_diff('microsecond', promised_at, received_at) / 86400e6 AS days_late,
           date_diff('microsecond', ordered_at, received_at) / 86400e6 AS lead_time_days,
           date_diff('microsecond', ordered_at, promised_at) / 86400e6 AS promised_lead_days,
           date_diff('microsecond', promised_at, {{ as_of | lit }}) / 86400e6 AS overdue
    FROM merged
    WHERE promised_at >= {{ start | lit }} AND promised_at < {{ stop | lit }}
),
lines AS (
    SELECT *,
           CASE WHEN rec THEN days_late <= CAST({{ tolerance | lit }} AS DOUBLE)
{% if early is not none %}
                              AND days_late >= CAST({{ (0 - early) | lit }} AS DOUBLE)
{% endif %}
           END AS on_time,
           CASE WHEN qty_ok THEN qty_received >= CAST({{ fill | lit }} AS DOUBLE) * qty_ordered END AS in_full,
           CASE WHEN rec THEN days_late > CAST({{ tolerance | lit }} AS DOUBLE) ELSE overdue > CAST({{ tolerance | lit }} AS DOUBLE) END AS late,
           CASE WHEN qty_ok THEN qty_received < qty_ordered END AS partial,
           CASE WHEN qty_ok THEN (CASE WHEN qty_received < qty_ordered THEN qty_received ELSE qty_ordered END)
                                 / CAST(qty_ordered AS DOUBLE) END AS fill_rate,
           CASE WHEN qty_ok THEN CASE WHEN qty_received > qty_ordered THEN qty_received - qty_ordered ELSE 0.0 END
           END AS over_units,
           CASE WHEN qty_ok THEN CASE WHEN qty_ordered > qty_received THEN qty_ordered - qty_received ELSE 0.0 END
           END AS short_units,
           CASE WHEN rec AND unit_cost_invoiced IS NOT NULL AND qty_received IS NOT NULL
                THEN qty_received * unit_cost_agreed END AS agreed_value,
           CASE WHEN rec AND unit_cost_invoiced IS NOT NULL AND qty_received IS NOT NULL
                THEN qty_received * unit_cost_invoiced - qty_received * unit_cost_agreed END AS price_variance,
           CASE WHEN qty_ok THEN CASE WHEN qty_received < qty_ordered THEN qty_received ELSE qty_ordered END
                WHEN rec THEN qty_received END AS scored_units
    FROM timed
),
scored AS (
    SELECT *,
           CASE WHEN rec THEN qty_rejected END
           * CASE WHEN rec AND qty_received > 0 THEN scored_units / qty_received ELSE 1.0 END AS scored_rejected,
           rec AND qty_rejected IS NOT NULL AND qty_received IS NOT NULL AS rej,
           coalesce(late, FALSE) AS late_b
    FROM lines
)
SELECT
{% for key in keys %}
    {{ key | ident }},
{% endfor %}
    count(*) AS n_lines,
    count(CASE WHEN NOT rec THEN 1 END) AS n_open,
    count(CASE WHEN NOT rec AND late_b THEN 1 END) AS n_open_late,
    count(CASE WHEN rec THEN 1 END) AS n_deliveries,
    count(CASE WHEN rec AND qty_ordered <> 0 THEN 1 END) AS n_timed,
    count(CASE WHEN rec AND qty_ordered <> 0 AND on_time THEN 1 END) AS on_time,
    count(CASE WHEN qty_ok THEN 1 END) AS n_qty_lines,
    count(CASE WHEN in_full THEN 1 END) AS in_full,
    count(CASE WHEN qty_ok AND on_time AND in_full THEN 1 END) AS otif,
    count(CASE WHEN partial THEN 1 END) AS n_partial,
    count(CASE WHEN days_late < 0 THEN 1 END) AS n_early,
    count(CASE WHEN rec AND late_b THEN 1 END) AS n_late,
    count(CASE WHEN over_units > 0 THEN 1 END) AS n_over_delivered,
    CAST(coalesce(sum(CASE WHEN qty_ok THEN qty_ordered ELSE 0 END), 0) AS BIGINT) AS qty_ordered,
    coalesce(sum(CASE WHEN qty_ok THEN fill_rate * qty_ordered ELSE 0.0 END), 0.0) AS qty_received_q,
    coalesce(sum(CASE WHEN rej THEN qty_received ELSE 0.0 END), 0.0) AS qty_received,
    coalesce(sum(CASE WHEN rej THEN qty_rejected ELSE 0.0 END), 0.0) AS qty_rejected,
    coalesce(sum(CASE WHEN rej THEN scored_units ELSE 0.0 END), 0.0) AS scored_units,
    coalesce(sum(CASE WHEN rej THEN scored_rejected ELSE 0.0 END), 0.0) AS scored_rejected,
    coalesce(sum(CASE WHEN qty_ok THEN over_units ELSE 0.0 END), 0.0) AS over_units,
    coalesce(sum(CASE WHEN qty_ok THEN short_units ELSE 0.0 END), 0.0) AS short_units,
    coalesce(sum(CASE WHEN qty_ok THEN short_units * unit_cost_agreed ELSE 0.0 END), 0.0) AS short_value,
    coalesce(sum(CASE WHEN qty_ok THEN over_units * unit_cost_agreed ELSE 0.0 END), 0.0) AS over_value,
    coalesce(sum(CASE WHEN rec AND late_b THEN qty_received * unit_cost_agreed END), 0.0) AS late_value,
    sum(agreed_value) AS agreed_value,
    sum(price_variance) AS price_variance,
    sum(CASE WHEN agreed_value IS NOT NULL THEN scored_units * unit_cost_agreed END) AS scored_agreed,
    sum(CASE WHEN agreed_value IS NOT NULL THEN scored_units * (unit_cost_invoiced - unit_cost_agreed) END)
        AS scored_variance,
    avg(lead_time_days) AS lead_time_mean,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_time_days) AS lead_time_median,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY lead_time_days) AS lead_time_p90,
    stddev_samp(lead_time_days) AS lead_time_sd,
    avg(CASE WHEN rec THEN promised_lead_days END) AS promised_lead_mean,
    avg(days_late) AS days_late_mean,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY days_late) AS days_late_median,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY days_late) AS days_late_p90
FROM scored
{% if keys %}
WHERE {% for key in keys %}{{ key | ident }} IS NOT NULL{{ " AND " if not loop.last }}{% endfor %}

GROUP BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %}

{% endif %}
