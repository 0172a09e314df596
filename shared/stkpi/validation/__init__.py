"""Data validations: can this morning's numbers be trusted?

Built as checks as data, small judges and a runner:

- :mod:`~stkpi.validation.checks` declares every check once: its name, the SQL under
  ``sql/validations/`` that measures it, the judge that decides, the thresholds of
  :class:`~stkpi.validation.config.ValidationConfig` it reads;
- :mod:`~stkpi.validation.measures` runs that SQL and shapes the rows into the judge's
  inputs (the only part that needs BigQuery);
- ``judges/`` holds the judgements, pure functions rows + config -> :class:`CheckResult`
  (GREEN / YELLOW / RED), one module per family, unit-tested without BigQuery;
- :mod:`~stkpi.validation.runner` runs every declared check through a guard (a check that
  cannot run is RED with its error, never a crash that hides the others), logs each in the
  log contract (:mod:`stkpi.log_contract`: the alerts in terraform/monitoring.tf count
  them) and stores them in ``${ops}.validation_results`` (:mod:`~stkpi.validation.store`).

Checks (``CheckResult.name`` = ``<category>.<subject>``):

- ``coverage.<entity>``: rows per month and their month-over-month change.
- ``volume.<entity>``: the latest complete day (report TZ) vs the median of the same weekday
  over the weeks before it.
- ``freshness.<entity>``: newest ``modifiedOn`` in raw and the last successful sync.
- ``join.<name>``: link rates (invoices->jobs, payments->invoices, ...; jobs->BUs lists the
  unmapped BUs by name).
- ``kpi.presence`` / ``kpi.ranges`` / ``kpi.jumps``: the last complete weeks of
  ``kpi_weekly`` per BU.
- ``reconciliation.servicetitan``: the latest pass of our KPIs vs ServiceTitan's reports:
  YELLOW explained differences, RED unexplained ones.
- ``pipeline.failed_windows`` / ``pipeline.stuck_windows`` / ``pipeline.dead_letters`` /
  ``pipeline.runs_without_rebuild``.
- ``deletes.<entity>``: rows the key scan marked deleted per week; RED when the latest
  scan's guard refused it.
"""
