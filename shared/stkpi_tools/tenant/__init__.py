"""The tenant's own configuration, from the tenant: ``discover`` reads its business units
and reports from ServiceTitan and proposes its BU map and report map (``recognize``);
``stkpi tenant`` (``stkpi_tools.cli.tenant``) writes them where the functions read them
(``stkpi.tenant_maps``)."""
