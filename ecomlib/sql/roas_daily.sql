-- Ad spend and store revenue by channel (or campaign) and day/week/period (ecomlib.ads.performance, the sums it
-- reduces the tables to), defined once for SQL engines. Part 'ads': ad_spend rows with finite amounts and a spend
-- (ads._clean_spend), channel/campaign as trimmed text, dated in [start, stop), summed per [bucket,] channel
-- [, campaign] with the number of distinct dates. Part 'store': orders whose status counts as revenue
-- (contract.order_revenue, gross), first_order = the customer's earliest counted order in the whole table (ties:
-- the smaller order_id), placed in [start, stop), summed per [bucket,] channel for the channels of ad_spend.
-- Buckets: the day (D) or the ISO week's Monday (W). Python assembles the performance table from the two parts.
WITH
ads AS (
    SELECT "date", trim(CAST(channel AS VARCHAR)) AS channel, trim(CAST(campaign AS VARCHAR)) AS campaign,
           impressions, clicks, spend, platform_conversions, platform_revenue
    FROM ad_spend
    WHERE spend IS NOT NULL
{% for col in volume %}
      AND ({{ col | ident }} IS NULL OR abs({{ col | ident }}) < CAST('inf' AS DOUBLE))
{% endfor %}
),
kept AS (
    SELECT * FROM ads
    WHERE channel IS NOT NULL
{% if exclude %}
      AND channel NOT IN ({{ exclude | map('lit') | join(', ') }})
{% endif %}
),
counted AS (
    SELECT order_time, trim(CAST(channel AS VARCHAR)) AS channel,
           CASE WHEN revenue < 0 THEN 0.0 ELSE CAST(revenue AS DOUBLE) END AS revenue,
           customer_id IS NOT NULL
           AND row_number() OVER (PARTITION BY customer_id ORDER BY order_time, order_id) = 1 AS first_order
    FROM orders
    WHERE status IN ({{ statuses | map('lit') | join(', ') }})
)
SELECT 'ads' AS part,
{% if bucket %}
       {{ bucket.format('"date"') }} AS bucket,
{% else %}
       CAST(NULL AS TIMESTAMP) AS bucket,
{% endif %}
       channel,
{% if campaign %}
       campaign,
{% else %}
       CAST(NULL AS VARCHAR) AS campaign,
{% endif %}
       sum(spend) AS spend, CAST(sum(impressions) AS BIGINT) AS impressions, CAST(sum(clicks) AS BIGINT) AS clicks,
       sum(platform_conversions) AS platform_conversions, sum(platform_revenue) AS platform_revenue,
       count(DISTINCT "date") AS days,
       CAST(NULL AS BIGINT) AS store_orders, CAST(NULL AS DOUBLE) AS store_revenue, CAST(NULL AS DOUBLE) AS rev_sq,
       CAST(NULL AS BIGINT) AS new_customers
FROM kept
WHERE "date" >= {{ start | lit }} AND "date" < {{ stop | lit }}
{% if campaign %}
  AND campaign IS NOT NULL
{% endif %}
GROUP BY {% if bucket %}{{ bucket.format('"date"') }}, {% endif %}channel{% if campaign %}, campaign{% endif %}

UNION ALL
SELECT 'store' AS part,
{% if bucket %}
       {{ bucket.format('order_time') }} AS bucket,
{% else %}
       CAST(NULL AS TIMESTAMP) AS bucket,
{% endif %}
       channel, CAST(NULL AS VARCHAR) AS campaign,
       CAST(NULL AS DOUBLE) AS spend, CAST(NULL AS BIGINT) AS impressions, CAST(NULL AS BIGINT) AS clicks,
       CAST(NULL AS DOUBLE) AS platform_conversions, CAST(NULL AS DOUBLE) AS platform_revenue,
       CAST(NULL AS BIGINT) AS days,
       count(*) AS store_orders, sum(revenue) AS store_revenue, sum(revenue * revenue) AS rev_sq,
       count(CASE WHEN first_order THEN 1 END) AS new_customers
FROM counted
WHERE order_time >= {{ start | lit }} AND order_time < {{ stop | lit }}
  AND channel IS NOT NULL AND channel IN (SELECT channel FROM kept)
GROUP BY {% if bucket %}{{ bucket.format('order_time') }}, {% endif %}channel
