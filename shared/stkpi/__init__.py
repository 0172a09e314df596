"""st-kpi: copy a ServiceTitan tenant into BigQuery and turn it into weekly KPIs per BU."""

__version__ = "0.1.0"
