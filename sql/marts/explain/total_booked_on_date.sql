-- total_booked_on_date: Sold estimates of one local day per BU (used by
-- `stkpi diagnose total-booked`), with what a UTC date would have given instead.
-- Parameters (rendered): ${day} as a DATE literal.
WITH estimates AS (
  SELECT bu, role, status, subtotal, sold_on, sold_date, DATE(sold_on) AS sold_utc_date,
    is_test_customer
  FROM `${project}.${dim}.dim_estimates`
  WHERE status = 'Sold'
)

SELECT
  bu,
  role,
  ROUND(SUM(IF(sold_date = ${day} AND NOT is_test_customer, subtotal, 0)), 2) AS booked_report_tz,
  ROUND(SUM(IF(sold_utc_date = ${day} AND NOT is_test_customer, subtotal, 0)), 2) AS booked_if_utc,
  COUNTIF(sold_date = ${day} AND is_test_customer) AS test_customer_estimates
FROM estimates
WHERE sold_date = ${day} OR sold_utc_date = ${day}
GROUP BY bu, role
ORDER BY bu;
