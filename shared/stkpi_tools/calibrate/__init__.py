"""Calibration of the validations: how often they cry wolf on a healthy tenant, and how often
they catch a fault.

The judges (``stkpi.validation.judges``) are pure functions of a few counts per entity and
join. ``image`` reads those counts off the simulator's generator at a clock hour, as raw
would hold them after a clean sync, without the stack; ``faults`` damages an image the way
a pipeline can (a lost window, a dropped month, a volume drop, a stale entity, a broken
join); ``offline`` turns an image into the judges' inputs exactly as
``stkpi.validation.measures`` turns the SQL's rows into them (a test on the stack holds the
two equal), and ``run`` judges many tenants and counts.
"""
