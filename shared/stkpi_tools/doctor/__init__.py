"""``stkpi doctor``'s checks: is the ServiceTitan connection ready for a backfill?

Through the project's own ServiceTitan client, in order: is the auth server there, does it
grant a token, does the API accept the app key and know the tenant, and does each endpoint
of the registry answer (one record per page, ``includeTotal=true``: its record count, or
the API scope to enable on a 403). Then the rate limit and what a full backfill costs at
the configured rate. Each check is a verdict (ok / warn / fail), the evidence and the fix;
no secret survives in any of them.

Modules by what they check: ``access`` (credentials, app key, tenant, each endpoint),
``capacity`` (rate limit, backfill estimate); ``observer`` is what the client's session
saw, ``report`` the verdicts, ``run`` the order. The command is ``stkpi_tools.cli.doctor``.
"""
