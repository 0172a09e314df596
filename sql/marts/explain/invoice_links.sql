-- invoice_links: how invoices were linked to jobs (used by `stkpi diagnose invoice-links`).
-- One row per link_method (id | number | unlinked) with counts, share and amounts.
WITH invoices AS (
  SELECT link_method, sub_total, total FROM `${project}.${dim}.dim_invoices`
)

SELECT
  link_method,
  COUNT(*) AS invoices,
  SAFE_DIVIDE(COUNT(*), SUM(COUNT(*)) OVER ()) AS share,
  ROUND(SUM(sub_total), 2) AS sub_total,
  ROUND(SUM(total), 2) AS total
FROM invoices
GROUP BY link_method
ORDER BY link_method;
