"""Reconcile the weekly KPIs with ServiceTitan's own reports (issue #15).

``mapping`` (which report and field feeds which KPI, per tenant: sql/seeds/report_map.csv),
``reports_api`` (the Reporting API within its once-a-minute limit), ``run`` (both sides,
compared and stored), ``compare`` (match / explained / unexplained, record by record),
``daily`` (the rebuild's step and the CLI's entry); its validation is
stkpi.validation.judges.reconciliation.
"""
