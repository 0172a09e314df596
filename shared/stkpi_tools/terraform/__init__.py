"""Read ``terraform/`` as data: a strict evaluator of Terraform's HCL expressions (``hcl``)
and the deployment's shape built from the real resources (``topology``).

``terraform/`` is the single source of truth for topics, subscriptions, dead letters,
functions, capacity and grants; the local stack and the CLI read it through this package
instead of keeping a second list of names in Python. Import from the subpackages: the
evaluator's API is :mod:`stkpi_tools.terraform.hcl`.
"""
