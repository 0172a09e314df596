-- dim_job_labor: labor cost per job (one row per job with any labor).
-- Sources: ${raw}.gross_pay_items, ${raw}.payroll_adjustments, ${dim}.dim_invoices.
-- Rule (KPIS.md "GPM links"): every gross-pay item counts (distinct records, keyed by their
-- id; never dedupe by sourceEntityId) plus every active payroll adjustment. A gross-pay item
-- links by its jobId, or without one by its invoiceId through the invoice's resolved job;
-- an adjustment has no jobId (ServiceTitan's spec) and links through its invoiceId only.
-- Lines linking to no job are left out. Dates of labor do not matter. Each raw table is
-- read one row per key (its latest version): raw holds exactly that (DESIGN.md), and should
-- it ever not (pipeline.duplicate_keys turns RED) an item still counts once; an inactive
-- latest version counts nowhere.
-- Date basis: none (attributed through the job's completedOn in kpi_gpm).
CREATE OR REPLACE TABLE `${project}.${dim}.dim_job_labor` AS
WITH gross_pay AS (
  SELECT
    'gross_pay_item' AS source,
    amount,
    job_id AS ref_job_id,
    invoice_id AS ref_invoice_id
  FROM `${project}.${raw}.gross_pay_items`
  WHERE TRUE  -- BigQuery's QUALIFY needs a WHERE
  QUALIFY
    ROW_NUMBER() OVER (PARTITION BY item_key ORDER BY modified_on DESC, _ingested_at DESC) = 1
),

adjustments AS (
  SELECT
    'payroll_adjustment' AS source,
    amount,
    CAST(NULL AS INT64) AS ref_job_id,
    invoice_id AS ref_invoice_id
  FROM (
    SELECT *
    FROM `${project}.${raw}.payroll_adjustments`
    WHERE TRUE  -- BigQuery's QUALIFY needs a WHERE
    QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY modified_on DESC, _ingested_at DESC) = 1
  )
  WHERE active IS NOT FALSE
),

lines AS (
  SELECT * FROM gross_pay
  UNION ALL
  SELECT * FROM adjustments
),

invoice_jobs AS (
  SELECT invoice_id, job_id
  FROM `${project}.${dim}.dim_invoices`
  WHERE job_id IS NOT NULL
),

linked AS (
  SELECT
    l.source,
    l.amount,
    COALESCE(l.ref_job_id, ij.job_id) AS job_id,
    l.ref_job_id IS NULL AS via_invoice
  FROM lines AS l
  -- The invoice key only where the line has no job: an equality the engine can hash
  -- (`ref_job_id IS NULL AND ...` in ON made the emulator's DuckDB loop over every pair).
  LEFT JOIN invoice_jobs AS ij
    ON ij.invoice_id = IF(l.ref_job_id IS NULL, l.ref_invoice_id, NULL)
)

SELECT
  job_id,
  SUM(amount) AS labor_amount,
  SUM(IF(source = 'gross_pay_item', amount, 0)) AS gross_pay_amount,
  SUM(IF(source = 'payroll_adjustment', amount, 0)) AS adjustment_amount,
  COUNTIF(source = 'gross_pay_item') AS gross_pay_items,
  COUNTIF(source = 'payroll_adjustment') AS adjustments,
  COUNTIF(via_invoice) AS lines_via_invoice
FROM linked
WHERE job_id IS NOT NULL
GROUP BY job_id;
