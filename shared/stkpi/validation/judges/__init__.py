"""The judgements of the validations, one module per family of checks: pure functions from
a query's rows and the thresholds (stkpi.validation.config) to CheckResults."""
