"""Render one record as the API's JSON dict, on demand, from the tenant's arrays.

State is evaluated as of the tenant's clock (an estimate is ``Sold`` once its sale time has
passed), so a record's content always matches its visible ``modifiedOn``. Decoration that
nothing refers to (names, line items) comes from a per-record RNG seeded by
``(seed, entity, id)``: the same record renders identically on every call and page.

The renderers are split by business area, as the generators are (``generate``): ``crm``
(reference data, customers, locations, jobs, appointments), ``sales`` (estimates,
invoices, payments), ``back_office`` (payroll, purchasing), on what they share (``view``).
"""
