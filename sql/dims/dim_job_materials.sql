-- dim_job_materials: materials cost per job (one row per job with any materials).
-- Sources: ${raw}.inventory_bills, ${raw}.purchase_orders, ${raw}.returns,
--          ${dim}.seed_kpi_params (materials_include_tax).
-- Rule (KPIS.md "GPM links", docs/KPI_RULES.md "GPM materials"):
--   + inventory bills, linked by jobId or, without one, by purchaseOrderId's PO job
--   + purchase orders not Canceled that no inventory bill references (by their jobId)
--   - returns with a jobId, not Canceled and active (returns without one count nowhere)
-- Amounts are the documents' totals, tax and shipping included, as ServiceTitan's job
-- costing counts them: a bill's billAmount, an order's total ("items cost, tax and
-- shipping cost") and a return's returnAmount ("including tax and shipping"). Shipping
-- always counts; tax counts unless seed_kpi_params.materials_include_tax is FALSE (the
-- tenant turned off ServiceTitan's "Tax Expenses In Costing"): then each document's tax
-- (taxAmount, tax) comes off its total.
-- Dates of materials do not matter. Each raw table is read one row per key (its latest
-- version): raw holds exactly that (DESIGN.md), and should it ever not
-- (pipeline.duplicate_keys turns RED) a record still counts once.
-- Date basis: none (attributed through the job's completedOn in kpi_gpm).
CREATE OR REPLACE TABLE `${project}.${dim}.dim_job_materials` AS
WITH params AS (
  SELECT COALESCE(materials_include_tax, TRUE) AS with_tax
  FROM `${project}.${dim}.seed_kpi_params`
),

raw_purchase_orders AS (
  SELECT *
  FROM `${project}.${raw}.purchase_orders`
  WHERE TRUE  -- BigQuery's QUALIFY needs a WHERE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY modified_on DESC, _ingested_at DESC) = 1
),

raw_bills AS (
  SELECT *
  FROM `${project}.${raw}.inventory_bills`
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY modified_on DESC, _ingested_at DESC) = 1
),

raw_returns AS (
  SELECT *
  FROM `${project}.${raw}.returns`
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY modified_on DESC, _ingested_at DESC) = 1
),

purchase_orders AS (
  SELECT
    po.id AS purchase_order_id,
    po.job_id,
    po.total - IF(p.with_tax, 0, COALESCE(po.tax, 0)) AS amount,
    po.status
  FROM raw_purchase_orders AS po
  CROSS JOIN params AS p
),

bills AS (
  SELECT
    b.id AS bill_id,
    b.purchase_order_id,
    b.bill_amount - IF(p.with_tax, 0, COALESCE(b.tax_amount, 0)) AS amount,
    COALESCE(b.job_id, po.job_id) AS job_id
  FROM raw_bills AS b
  CROSS JOIN params AS p
  LEFT JOIN purchase_orders AS po ON po.purchase_order_id = b.purchase_order_id
),

billed_purchase_orders AS (
  SELECT DISTINCT purchase_order_id
  FROM bills
  WHERE purchase_order_id IS NOT NULL
),

open_purchase_orders AS (
  SELECT po.purchase_order_id, po.job_id, po.amount
  FROM purchase_orders AS po
  LEFT JOIN billed_purchase_orders AS bp ON bp.purchase_order_id = po.purchase_order_id
  WHERE bp.purchase_order_id IS NULL
    AND COALESCE(po.status, '') != 'Canceled'
),

returns AS (
  -- returns without a jobId count nowhere: left out with every jobless line below
  SELECT
    r.id AS return_id,
    r.job_id,
    r.return_amount - IF(p.with_tax, 0, COALESCE(r.tax_amount, 0)) AS amount
  FROM raw_returns AS r
  CROSS JOIN params AS p
  WHERE COALESCE(r.status, '') != 'Canceled'
    AND r.active IS NOT FALSE
),

lines AS (
  SELECT 'inventory_bill' AS source, job_id, amount FROM bills
  UNION ALL
  SELECT 'purchase_order' AS source, job_id, amount FROM open_purchase_orders
  UNION ALL
  SELECT 'return' AS source, job_id, -amount AS amount FROM returns
)

SELECT
  job_id,
  SUM(amount) AS materials_amount,
  SUM(IF(source = 'inventory_bill', amount, 0)) AS bills_amount,
  SUM(IF(source = 'purchase_order', amount, 0)) AS open_po_amount,
  -SUM(IF(source = 'return', amount, 0)) AS returns_amount,
  COUNT(*) AS lines
FROM lines
WHERE job_id IS NOT NULL
GROUP BY job_id;
