"""Generate a tenant's arrays: vectorised, deterministic for a seed, fast at production scale.

Each entity draws from its own numpy generator seeded by ``(seed, entity code)``, so adding
an entity never changes another's data. Which step builds which entity, and each one's
code, first id and volume, is the simulator's entity table (``stkpi_tools.sim.entities``).
Only what other records refer to, or what decides visibility and state over time, is
stored here (ids, birth, event times, parent indices, amounts in integer cents); names and
other decoration are rendered later (``stkpi_tools.sim.records``).

The timeline runs from 2022-01-01 (customers and reference data a little earlier) to
``now + horizon_days``: records born after ``now`` appear when the clock is advanced.
Volumes: ``scale`` times the production counts visible at ``now``.

The steps are split by business area, one module each, on what they all share
(``timeline``): ``crm`` (reference data, customers and locations, jobs and appointments),
``sales`` (estimates, invoices and payments), ``back_office`` (payroll, purchasing).
"""
