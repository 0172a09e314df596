"""Tooling around the st-kpi runtime: the ServiceTitan simulator, the local stack on
emulators, chaos and benchmark labs, the demo and the ``stkpi`` CLI.

It depends on the runtime package ``stkpi`` and never the other way round: the function
zips Terraform builds contain ``stkpi`` only (``tests/terraform/test_function_zips.py``).
"""
