"""CRM steps: the reference data, customers and their locations, jobs and their appointments.

What the other areas hang on: a job's customer, business unit, role and visit times decide
its estimates, invoices, pay items and purchase orders (``sales``, ``back_office``).
"""

from __future__ import annotations

import numpy as np

from stkpi_tools.sim import catalog as cat
from stkpi_tools.sim.clock import DAY, HOUR, NEVER
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.generate.timeline import Timeline, by_time, days, maybe, table
from stkpi_tools.sim.tables import Table


def _fixed(name: str, active: list[bool], rng: np.random.Generator, tl: Timeline) -> Table:
    """A small reference table born before the timeline, some rows edited later."""
    n = len(active)
    ids = tl.id_bases[name] + np.arange(n, dtype=np.int64)
    birth = tl.t0 - 400 * DAY + np.arange(n, dtype=np.int64) * DAY
    edit = maybe(rng, n, 0.4, rng.integers(tl.t0, tl.end, n, dtype=np.int64))
    return table(name, ids, birth, (edit,), {}, np.array(active))


def reference(config: SimConfig, tl: Timeline, tables: dict[str, Table]) -> None:
    tables["business_units"] = _fixed(
        "business_units", [bu[1] for bu in cat.BUSINESS_UNITS], tl.rng("business_units"), tl
    )
    tables["job_types"] = _fixed(
        "job_types", [jt[1] for jt in cat.JOB_TYPES], tl.rng("job_types"), tl
    )
    tables["activity_codes"] = _fixed(
        "activity_codes", [a[2] for a in cat.ACTIVITY_CODES], tl.rng("activity_codes"), tl
    )
    tables["campaigns"] = _fixed(
        "campaigns", [c[1] for c in cat.CAMPAIGNS], tl.rng("campaigns"), tl
    )

    rng = tl.rng("technicians")
    n = max(12, round(tl.volumes["technicians"] * config.scale))
    n_bus = len(cat.BUSINESS_UNITS) - 2  # techs work for active BUs
    bu = rng.integers(0, n_bus, n)
    bu[:n_bus] = np.arange(n_bus)  # every active BU has someone, even at tiny scales
    active = rng.random(n) >= 0.2
    active[:n_bus] = True
    active[n_bus : n_bus + 2] = False  # inactive technicians exist at every scale
    hired_late = rng.random(n) < 0.3
    hired_late[:n_bus] = False
    birth = np.where(
        hired_late,
        rng.integers(tl.t0, tl.end, n, dtype=np.int64),
        tl.t0 - rng.integers(30, 700, n, dtype=np.int64) * DAY,
    )
    birth, bu, active = by_time(birth, bu, active)
    edit = maybe(rng, n, 0.3, birth + days(rng, n, 30, 900))
    tables["technicians"] = table(
        "technicians",
        tl.id_bases["technicians"] + np.arange(n, dtype=np.int64),
        birth,
        (edit,),
        {"bu": bu.astype(np.int16)},
        active,
    )


def customers_locations(config: SimConfig, tl: Timeline, tables: dict[str, Table]) -> None:
    rng = tl.rng("customers")
    n = tl.count("customers", minimum=20)
    early = rng.random(n) < 0.05  # customers from before the timeline
    birth = np.where(
        early,
        tl.t0 - rng.integers(1, 365 * DAY, n, dtype=np.int64),
        rng.integers(tl.t0, tl.end, n, dtype=np.int64),
    )
    birth.sort()
    birth[0] = min(birth[0], tl.t0 - DAY)  # jobs always find an existing customer
    region = rng.choice(3, size=n, p=[0.5, 0.25, 0.25]).astype(np.int8)
    commercial = rng.random(n) < 0.08
    test = rng.random(n) < 0.006
    test[rng.choice(n, size=min(n, 3), replace=False)] = True
    active = rng.random(n) >= 0.04
    active[test & (rng.random(n) < 0.5)] = False
    active[rng.choice(n, size=min(n, 3), replace=False)] = False
    edit = maybe(rng, n, 0.25, birth + days(rng, n, 1, 400))
    tables["customers"] = table(
        "customers",
        tl.ids("customers", n, rng),
        birth,
        (edit,),
        {"region": region, "commercial": commercial, "test": test},
        active,
    )

    lrng = tl.rng("locations")
    extra = round(n * 0.1)
    owner = np.concatenate([np.arange(n), lrng.integers(0, n, extra)])
    lbirth = birth[owner] + lrng.integers(60, 600, n + extra, dtype=np.int64)
    lbirth[n:] += days(lrng, extra, 30, 700)
    order = np.argsort(lbirth, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    owner, lbirth = owner[order], lbirth[order]
    lactive = active[owner] & (lrng.random(owner.size) >= 0.03)
    ledit = maybe(lrng, owner.size, 0.1, lbirth + days(lrng, owner.size, 1, 500))
    tables["locations"] = table(
        "locations",
        tl.ids("locations", owner.size, lrng),
        lbirth,
        (ledit,),
        {"customer": owner.astype(np.int64)},
        lactive,
    )
    tables["customers"].cols["first_location"] = position[:n].astype(np.int64)


def jobs_appointments(config: SimConfig, tl: Timeline, tables: dict[str, Table]) -> None:
    rng = tl.rng("jobs")
    cust = tables["customers"]
    n = tl.count("jobs", minimum=40)
    birth = tl.uniform_births(rng, n)
    known = np.searchsorted(cust.birth, birth, side="right")  # customers existing by then
    newest = np.maximum(0, known - 1 - rng.geometric(0.3, n) + 1)
    customer = np.where(rng.random(n) < 0.5, newest, (rng.random(n) * known).astype(np.int64))
    customer = np.clip(customer, 0, np.maximum(known - 1, 0))
    region = cust.cols["region"][customer]
    commercial = cust.cols["commercial"][customer]

    u = rng.random(n)
    role = np.where(u < 0.52, 0, np.where(u < 0.97, 1, 2)).astype(np.int8)  # est/prod/warranty
    sales_bu = np.array([cat.BU_SALES[r] for r in range(3)])[region]
    prod_bu = np.array([cat.BU_PRODUCTION[r] for r in range(3)])[region]
    brand = rng.choice(3, size=n, p=[0.76, 0.12, 0.12])
    phx_prod = np.where(brand == 1, cat.BU_ANDYS, np.where(brand == 2, cat.BU_GUARANTEED, prod_bu))
    prod_bu = np.where(region == 0, phx_prod, prod_bu)
    prod_bu = np.where(commercial & (region < 2), cat.BU_COMMERCIAL, prod_bu)
    bu = np.where(role == 0, sales_bu, prod_bu)
    flagstaff = (birth < tl.t0 + 365 * DAY) & (rng.random(n) < 0.03)  # an inactive BU's jobs
    bu = np.where(
        flagstaff, np.where(role == 0, cat.BU_FLAGSTAFF_SALES, cat.BU_FLAGSTAFF_PRODUCTION), bu
    )
    est_type = rng.choice(cat.EST_RES_TYPES, size=n, p=cat.EST_RES_P)
    prod_type = rng.choice(cat.PROD_RES_TYPES, size=n, p=cat.PROD_RES_P)
    job_type = np.where(
        role == 0,
        np.where(commercial, cat.JT_COMM_ESTIMATE, est_type),
        np.where(
            role == 2, cat.JT_WARRANTY, np.where(commercial, cat.JT_COMM_PRODUCTION, prod_type)
        ),
    )

    # Appointments: one per job, a second for ~11% (a return visit or a reschedule).
    lead = np.where(role == 0, days(rng, n, 1, 14), days(rng, n, 3, 30))
    start1 = ((birth + lead) // DAY) * DAY + rng.integers(14, 22, n) * HOUR
    dur = np.where(role == 0, rng.integers(1, 3, n), rng.integers(6, 10, n)) * HOUR
    outcome = rng.choice(3, size=n, p=[0.88, 0.08, 0.04]).astype(np.int8)
    canceled = outcome == 1
    cancel_at = birth + ((start1 - birth) * rng.uniform(0.1, 0.9, n)).astype(np.int64)
    has2 = (rng.random(n) < 0.11) & ~canceled
    resched = has2 & (rng.random(n) < 0.35)  # first visit canceled, second replaces it
    a1_birth = birth + rng.integers(300, 7200, n)
    a1_cancel = np.where(canceled, cancel_at, np.where(resched, start1 - DAY, NEVER))
    a1_cancel = np.where(a1_cancel < a1_birth, a1_birth + HOUR, a1_cancel)
    start2 = np.where(
        resched, start1 + days(rng, n, 2, 7), start1 + dur + rng.integers(1, 8, n) * DAY
    )
    start2 = (start2 // HOUR) * HOUR
    a2_birth = np.where(resched, a1_cancel, start1 + dur)
    last_end = np.where(has2, start2 + dur, start1 + dur)
    done = last_end + rng.integers(0, 36 * HOUR, n)
    t1 = np.where(canceled, cancel_at, np.where(outcome == 2, start1 + HOUR, done))
    started = np.where(canceled, NEVER, start1)
    late_edit = maybe(rng, n, 0.15, t1 + days(rng, n, 20, 300))
    tech = tables["technicians"]
    sales_techs = np.flatnonzero(np.isin(tech.cols["bu"], list(cat.BU_SALES.values())))
    sold_by = sales_techs[rng.integers(0, sales_techs.size, n)]
    sold_by = np.where(rng.random(n) < 0.1, -1, sold_by)
    campaign = rng.integers(0, len(cat.CAMPAIGNS), n)
    campaign = np.where(rng.random(n) < 0.05, -1, campaign)
    tables["jobs"] = table(
        "jobs",
        tl.ids("jobs", n, rng),
        birth,
        (started, t1, late_edit),
        {
            "customer": customer,
            "location": cust.cols["first_location"][customer],
            "role": role,
            "bu": bu.astype(np.int16),
            "job_type": job_type.astype(np.int16),
            "outcome": outcome,
            "start1": start1,
            "t1": t1,
            "last_start": np.where(has2, start2, start1),
            "sold_by": sold_by,
            "campaign": campaign,
        },
    )

    arng = tl.rng("appointments")
    idx2 = np.flatnonzero(has2)
    job = np.concatenate([np.arange(n), idx2])
    a_birth = np.concatenate([a1_birth, a2_birth[idx2]])
    a_start = np.concatenate([start1, start2[idx2]])
    a_end = a_start + dur[job]
    a_cancel = np.concatenate([a1_cancel, np.full(idx2.size, NEVER, dtype=np.int64)])
    a_done = np.where(a_cancel < NEVER, NEVER, a_end)
    a_birth, job, a_start, a_end, a_cancel, a_done = by_time(
        a_birth, job, a_start, a_end, a_cancel, a_done
    )
    m = job.size
    dispatched = np.where(a_cancel < NEVER, NEVER, a_start - arng.integers(600, 7200, m))
    tables["appointments"] = table(
        "appointments",
        tl.ids("appointments", m, arng),
        a_birth,
        (dispatched, a_done, a_cancel),
        {
            "job": job,
            "start": a_start,
            "end": a_end,
            "cancel": a_cancel,
            "done": a_done,
            "dispatched": dispatched,
        },
    )
    # The job's visit the payroll items hang on: its last appointment that was not canceled.
    last_appt = np.full(n, -1, dtype=np.int64)
    ok = a_cancel == NEVER
    last_appt[job[ok]] = np.flatnonzero(ok)  # later rows overwrite: the latest visit wins
    tables["jobs"].cols["last_appt"] = last_appt
