"""Generate a tenant's arrays: vectorised, deterministic for a seed, fast at production scale.

Each entity draws from its own numpy generator seeded by ``(seed, entity code)``, so adding
an entity never changes another's data. Which step builds which entity, and each one's
code, first id and volume, is the simulator's entity table (``stkpi_tools.sim.entities``).
Only what other records refer to, or what decides visibility and state over time, is
stored here (ids, birth, event times, parent indices, amounts in integer cents); names and
other decoration are rendered later (``records``).

The timeline runs from 2022-01-01 (customers and reference data a little earlier) to
``now + horizon_days``: records born after ``now`` appear when the clock is advanced.
Volumes: ``scale`` times the production counts visible at ``now``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from stkpi.registry import get_entity
from stkpi_tools.sim import catalog as cat
from stkpi_tools.sim.clock import DAY, HOUR, NEVER, to_epoch
from stkpi_tools.sim.config import TIMELINE_START, SimConfig
from stkpi_tools.sim.tables import Table

JOB_NUMBER_BASE = 100_000  # job numbers differ from ids so a client mixing them up is caught


def _versions(*columns: np.ndarray) -> np.ndarray:
    """Stack event-time columns (NEVER = does not happen) into sorted per-row versions."""
    stacked = np.stack([np.asarray(c, dtype=np.int64) for c in columns], axis=1)
    stacked.sort(axis=1)
    return stacked


def _maybe(rng: np.random.Generator, n: int, p: float, when: np.ndarray) -> np.ndarray:
    """``when`` for a fraction ``p`` of rows, NEVER elsewhere."""
    return np.where(rng.random(n) < p, when, NEVER).astype(np.int64)


def _days(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    return (rng.uniform(lo, hi, n) * DAY).astype(np.int64)


def _cents(rng: np.random.Generator, n: int, mean_log: float, sigma: float) -> np.ndarray:
    """Lognormal dollar amounts in integer cents; half of them whole dollars."""
    cents = np.round(np.exp(rng.normal(mean_log, sigma, n)) * 100).astype(np.int64)
    whole = rng.random(n) < 0.5
    cents[whole] = (cents[whole] // 100) * 100
    return np.maximum(cents, 100)


class Timeline:
    """The instants, counts and per-entity streams every generator shares.

    ``codes``, ``id_bases`` and ``volumes`` are the simulator's entity table
    (``stkpi_tools.sim.entities``), passed in so the generators need not import it.
    """

    def __init__(
        self,
        config: SimConfig,
        codes: Mapping[str, int],
        id_bases: Mapping[str, int],
        volumes: Mapping[str, int],
    ) -> None:
        self.config = config
        self.codes, self.id_bases, self.volumes = codes, id_bases, volumes
        self.t0 = to_epoch(TIMELINE_START)
        self.now = to_epoch(config.now)
        self.end = self.now + config.horizon_days * DAY
        self.span_ratio = (self.end - self.t0) / max(1, self.now - self.t0)

    def count(self, name: str, minimum: int = 5) -> int:
        """Records to generate so about ``scale`` x production are visible at ``now``."""
        target = self.volumes[name] * self.config.scale * self.span_ratio
        return max(minimum, round(target))

    def rng(self, name: str) -> np.random.Generator:
        """The entity's own stream: adding an entity never changes another's data."""
        return np.random.default_rng([self.config.seed, self.codes[name]])

    def ids(self, name: str, n: int, rng: np.random.Generator) -> np.ndarray:
        """Increasing ids with gaps (real ids are not dense)."""
        if self.id_bases[name] == 0:
            return np.arange(n, dtype=np.int64)
        steps = rng.integers(1, 4, size=n, dtype=np.int64)
        return self.id_bases[name] + np.cumsum(steps)

    def uniform_births(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.sort(rng.integers(self.t0, self.end, size=n, dtype=np.int64))


# A generator step: builds one or more entities' tables into ``tables``, reading the
# tables of the entities it refers to (built by earlier steps).
Step = Callable[[SimConfig, Timeline, dict[str, Table]], None]


def _fixed(name: str, active: list[bool], rng: np.random.Generator, tl: Timeline) -> Table:
    """A small reference table born before the timeline, some rows edited later."""
    n = len(active)
    ids = tl.id_bases[name] + np.arange(n, dtype=np.int64)
    birth = tl.t0 - 400 * DAY + np.arange(n, dtype=np.int64) * DAY
    edit = _maybe(rng, n, 0.4, rng.integers(tl.t0, tl.end, n, dtype=np.int64))
    return Table(get_entity(name), ids, birth, _versions(birth, edit), np.array(active))


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
    order = np.argsort(birth, kind="stable")
    birth, bu, active = birth[order], bu[order], active[order]
    edit = _maybe(rng, n, 0.3, birth + _days(rng, n, 30, 900))
    tables["technicians"] = Table(
        get_entity("technicians"),
        tl.id_bases["technicians"] + np.arange(n, dtype=np.int64),
        birth,
        _versions(birth, edit),
        active,
        {"bu": bu.astype(np.int16)},
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
    edit = _maybe(rng, n, 0.25, birth + _days(rng, n, 1, 400))
    tables["customers"] = Table(
        get_entity("customers"),
        tl.ids("customers", n, rng),
        birth,
        _versions(birth, edit),
        active,
        {"region": region, "commercial": commercial, "test": test},
    )

    lrng = tl.rng("locations")
    extra = round(n * 0.1)
    owner = np.concatenate([np.arange(n), lrng.integers(0, n, extra)])
    lbirth = birth[owner] + lrng.integers(60, 600, n + extra, dtype=np.int64)
    lbirth[n:] += _days(lrng, extra, 30, 700)
    order = np.argsort(lbirth, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    owner, lbirth = owner[order], lbirth[order]
    lactive = active[owner] & (lrng.random(owner.size) >= 0.03)
    ledit = _maybe(lrng, owner.size, 0.1, lbirth + _days(lrng, owner.size, 1, 500))
    tables["locations"] = Table(
        get_entity("locations"),
        tl.ids("locations", owner.size, lrng),
        lbirth,
        _versions(lbirth, ledit),
        lactive,
        {"customer": owner.astype(np.int64)},
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
    lead = np.where(role == 0, _days(rng, n, 1, 14), _days(rng, n, 3, 30))
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
        resched, start1 + _days(rng, n, 2, 7), start1 + dur + rng.integers(1, 8, n) * DAY
    )
    start2 = (start2 // HOUR) * HOUR
    a2_birth = np.where(resched, a1_cancel, start1 + dur)
    last_end = np.where(has2, start2 + dur, start1 + dur)
    done = last_end + rng.integers(0, 36 * HOUR, n)
    t1 = np.where(canceled, cancel_at, np.where(outcome == 2, start1 + HOUR, done))
    started = np.where(canceled, NEVER, start1)
    late_edit = _maybe(rng, n, 0.15, t1 + _days(rng, n, 20, 300))
    tech = tables["technicians"]
    sales_techs = np.flatnonzero(np.isin(tech.cols["bu"], list(cat.BU_SALES.values())))
    sold_by = sales_techs[rng.integers(0, sales_techs.size, n)]
    sold_by = np.where(rng.random(n) < 0.1, -1, sold_by)
    campaign = rng.integers(0, len(cat.CAMPAIGNS), n)
    campaign = np.where(rng.random(n) < 0.05, -1, campaign)
    tables["jobs"] = Table(
        get_entity("jobs"),
        tl.ids("jobs", n, rng),
        birth,
        _versions(birth, started, t1, late_edit),
        None,
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
    order = np.argsort(a_birth, kind="stable")
    job, a_birth, a_start, a_end = job[order], a_birth[order], a_start[order], a_end[order]
    a_cancel, a_done = a_cancel[order], a_done[order]
    m = job.size
    dispatched = np.where(a_cancel < NEVER, NEVER, a_start - arng.integers(600, 7200, m))
    tables["appointments"] = Table(
        get_entity("appointments"),
        tl.ids("appointments", m, arng),
        a_birth,
        _versions(a_birth, dispatched, a_done, a_cancel),
        None,
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


def estimates(config: SimConfig, tl: Timeline, tables: dict[str, Table]) -> None:
    rng = tl.rng("estimates")
    jobs = tables["jobs"]
    eligible = np.flatnonzero((jobs.cols["role"] == 0) & (jobs.cols["outcome"] != 1))
    n = tl.count("estimates", minimum=30)
    first = rng.permutation(eligible)[: min(n, eligible.size)]
    job = np.concatenate([first, rng.choice(eligible, size=n - first.size)])
    birth = jobs.cols["last_start"][job] + rng.integers(HOUR, 3 * HOUR, n)
    order = np.argsort(birth, kind="stable")
    job, birth = job[order], birth[order]
    u = rng.random(n)
    weeks_later = birth + (np.minimum(7 + rng.exponential(25, n), 200) * DAY).astype(np.int64)
    same_day = birth + rng.integers(HOUR, 8 * HOUR, n)
    sold_at = np.where(u < 0.05, same_day, np.where(u < 0.37, weeks_later, NEVER))
    dismissed = (u >= 0.37) & (u < 0.62)
    dismissed_at = np.where(dismissed, birth + _days(rng, n, 5, 120), NEVER)
    leftover = dismissed & (rng.random(n) < 0.15)  # sold, then dismissed: soldOn stays
    sold_at = np.where(leftover, birth + _days(rng, n, 1, 4), sold_at)
    subtotal = _cents(rng, n, 8.0, 0.8)
    taxed = rng.random(n) < 0.3
    tax = np.where(taxed, np.round(subtotal * 0.086).astype(np.int64), 0)
    tech = tables["technicians"]
    sales_techs = np.flatnonzero(np.isin(tech.cols["bu"], list(cat.BU_SALES.values())))
    late_edit = _maybe(rng, n, 0.05, birth + _days(rng, n, 30, 300))
    tables["estimates"] = Table(
        get_entity("estimates"),
        tl.ids("estimates", n, rng),
        birth,
        _versions(birth, sold_at, dismissed_at, late_edit),
        None,
        {
            "job": job,
            "sold_at": sold_at,
            "dismissed_at": dismissed_at,
            "subtotal": subtotal,
            "tax": tax,
            "sold_by": sales_techs[rng.integers(0, sales_techs.size, n)],
        },
    )


def invoices_payments(config: SimConfig, tl: Timeline, tables: dict[str, Table]) -> None:
    rng = tl.rng("invoices")
    jobs = tables["jobs"]
    done = (jobs.cols["role"] > 0) & (jobs.cols["outcome"] == 0)
    eligible = np.flatnonzero(done)
    n = tl.count("invoices", minimum=30)
    first = rng.permutation(eligible)[: min(n, eligible.size)]
    extra = rng.choice(eligible, size=n - first.size)
    job = np.concatenate([first, extra])
    is_first = np.arange(n) < first.size
    t1 = jobs.cols["t1"][job]
    birth = np.where(is_first, t1 + rng.integers(HOUR, 48 * HOUR, n), t1 + _days(rng, n, 1, 45))
    order = np.argsort(birth, kind="stable")
    job, birth, is_first = job[order], birth[order], is_first[order]
    warranty = jobs.cols["role"][job] == 2
    sub = np.where(is_first, _cents(rng, n, 8.2, 0.7), _cents(rng, n, 6.5, 0.9))
    u = rng.random(n)
    credit = ~is_first & (u < 0.08)
    sub = np.where(credit, -np.maximum(sub // 4, 100), sub)
    zero = (warranty & (rng.random(n) < 0.9)) | (~credit & (rng.random(n) < 0.01))
    sub = np.where(zero, 0, sub)
    tax = np.where(rng.random(n) < 0.4, np.round(sub * 0.086).astype(np.int64), 0)
    total = sub + tax
    v = rng.random(n)
    # 0 nested {id, number, type}; 1 job null; 2 nested number only; 3 top-level jobId/jobNumber
    link = np.where(v < 0.007, 1, np.where(v < 0.011, 2, np.where(v < 0.021, 3, 0))).astype(np.int8)
    ids = tl.ids("invoices", n, rng)

    # Payments, in integer cents so every invoice's applied amounts sum exactly.
    prng = tl.rng("payments")
    payable = np.flatnonzero(total > 0)
    w = prng.random(payable.size)
    # none / partial only / deposit + rest / paid in full
    plan = np.where(w < 0.05, 0, np.where(w < 0.10, 1, np.where(w < 0.52, 2, 3)))
    frac = prng.uniform(0.3, 0.6, payable.size)
    part = np.round(total[payable] * frac).astype(np.int64)
    first_at = birth[payable] + (np.minimum(prng.exponential(7, payable.size), 90) * DAY).astype(
        np.int64
    )
    second_at = first_at + _days(prng, payable.size, 3, 60)
    pay_inv_a: list[np.ndarray] = []
    pay_amt_a: list[np.ndarray] = []
    pay_paid: list[np.ndarray] = []
    for mask, amount, when in (
        (plan == 1, part, first_at),
        (plan == 2, part, first_at),
        (plan == 2, total[payable] - part, second_at),
        (plan == 3, total[payable], first_at),
    ):
        pay_inv_a.append(payable[mask])
        pay_amt_a.append(amount[mask])
        pay_paid.append(when[mask])
    inv_a = np.concatenate(pay_inv_a)
    amt_a = np.concatenate(pay_amt_a)
    paid = np.concatenate(pay_paid)
    inv_b = np.full(inv_a.size, -1, dtype=np.int64)
    amt_b = np.zeros(inv_a.size, dtype=np.int64)

    # A payment split across two invoices of the same job (both paid in full at once).
    full = np.arange(inv_a.size - int((plan == 3).sum()), inv_a.size)  # the last block
    by_job = full[np.argsort(job[inv_a[full]], kind="stable")]
    pairs = np.flatnonzero(job[inv_a[by_job[:-1]]] == job[inv_a[by_job[1:]]])
    pairs = pairs[prng.random(pairs.size) < 0.5]
    pairs = pairs[np.concatenate([[True], np.diff(pairs) > 1])] if pairs.size else pairs
    keep = np.ones(inv_a.size, dtype=bool)
    a_rows, b_rows = by_job[pairs], by_job[pairs + 1]
    inv_b[a_rows] = inv_a[b_rows]
    amt_b[a_rows] = amt_a[b_rows]
    paid[a_rows] = np.maximum(paid[a_rows], paid[b_rows])
    keep[b_rows] = False
    inv_a, amt_a, inv_b, amt_b, paid = (
        inv_a[keep],
        amt_a[keep],
        inv_b[keep],
        amt_b[keep],
        paid[keep],
    )

    p_birth = paid + prng.integers(60, 3 * HOUR, paid.size)
    order = np.argsort(p_birth, kind="stable")
    inv_a, amt_a, inv_b, amt_b, paid, p_birth = (
        a[order] for a in (inv_a, amt_a, inv_b, amt_b, paid, p_birth)
    )
    m = paid.size
    p_edit = _maybe(prng, m, 0.03, p_birth + _days(prng, m, 1, 60))
    tables["payments"] = Table(
        get_entity("payments"),
        tl.ids("payments", m, prng),
        p_birth,
        _versions(p_birth, p_edit),
        None,
        {
            "inv_a": inv_a,
            "amt_a": amt_a,
            "inv_b": inv_b,
            "amt_b": amt_b,
            "paid": paid,
            "type": prng.integers(0, 5, m).astype(np.int8),
        },
    )

    # Each invoice's payments (at most two), so its balance follows the visible payments.
    inv = np.concatenate([inv_a, inv_b[inv_b >= 0]])
    pay = np.concatenate([np.arange(m), np.flatnonzero(inv_b >= 0)])
    amt = np.concatenate([amt_a, amt_b[inv_b >= 0]])
    order = np.lexsort((p_birth[pay], inv))
    inv, pay, amt = inv[order], pay[order], amt[order]
    starts = np.searchsorted(inv, inv, side="left")
    slot = np.arange(inv.size) - starts
    inv_pay = np.full((n, 2), -1, dtype=np.int64)
    inv_amt = np.zeros((n, 2), dtype=np.int64)
    inv_pay[inv, slot] = pay
    inv_amt[inv, slot] = amt
    pay_times = np.where(inv_pay >= 0, p_birth[np.maximum(inv_pay, 0)], NEVER)
    late_edit = _maybe(rng, n, 0.05, birth + _days(rng, n, 10, 300))
    tables["invoices"] = Table(
        get_entity("invoices"),
        ids,
        birth,
        _versions(birth, pay_times[:, 0], pay_times[:, 1], late_edit),
        None,
        {
            "job": job,
            "sub": sub,
            "tax": tax,
            "link": link,
            "pay": inv_pay,
            "pay_amt": inv_amt,
        },
    )
    first_invoice = np.full(jobs.size, -1, dtype=np.int64)
    first_invoice[job[::-1]] = np.arange(n)[::-1]  # earliest invoice wins
    jobs.cols["first_invoice"] = first_invoice


def payroll(config: SimConfig, tl: Timeline, tables: dict[str, Table]) -> None:
    rng = tl.rng("gross_pay_items")
    jobs = tables["jobs"]
    worked = np.flatnonzero(
        (jobs.cols["role"] > 0) & (jobs.cols["outcome"] == 0) & (jobs.cols["last_appt"] >= 0)
    )
    per_job = rng.choice([1, 2, 3, 4], size=worked.size, p=[0.3, 0.4, 0.2, 0.1])
    job = np.repeat(worked, per_job)
    group_start = np.repeat(np.cumsum(per_job) - per_job, per_job)
    slot = np.arange(job.size) - group_start
    n = job.size
    tech = tables["technicians"]
    prod_techs = np.flatnonzero(~np.isin(tech.cols["bu"], list(cat.BU_SALES.values())))
    crew = rng.integers(0, prod_techs.size, worked.size)
    employee = prod_techs[(np.repeat(crew, per_job) + slot // 2) % prod_techs.size]
    day = (jobs.cols["last_start"][job] // DAY) * DAY
    birth = jobs.cols["t1"][job] + _days(rng, n, 1, 4)
    rate = rng.integers(2200, 3800, n)
    overtime = slot % 2 == 1
    # Labour follows the job's size, as a crew's hours do: 25-45% of its first invoice's
    # subtotal split over its pay items, so gross margins land where a painting
    # contractor's do. A job without an invoice yet gets 2-9 hours an item.
    share = np.repeat(rng.uniform(0.25, 0.45, worked.size), per_job)
    inv_of_job = jobs.cols["first_invoice"][job]
    billed = np.where(inv_of_job >= 0, tables["invoices"].cols["sub"][inv_of_job], 0)
    fair = (
        billed * share * 100 / (rate * np.repeat(per_job, per_job) * np.where(overtime, 1.5, 1.0))
    )
    hours_x100 = np.where(
        billed > 0, np.clip(np.round(fair), 50, 6000), rng.integers(200, 900, n)
    ).astype(np.int64)
    amount = np.round(hours_x100 * rate * np.where(overtime, 1.5, 1.0) / 100).astype(np.int64)
    edit_at = _maybe(rng, n, 0.1, birth + _days(rng, n, 7, 30))
    delta = rng.integers(-3000, 3000, n)
    invoice_only = np.repeat(rng.random(worked.size) < 0.03, per_job)
    first_inv = jobs.cols["first_invoice"][job]
    invoice_only &= first_inv >= 0
    with_invoice = (first_inv >= 0) & (invoice_only | (rng.random(n) < 0.6))
    order = np.argsort(birth, kind="stable")
    cols = {
        "job": job,
        "employee": employee,
        "day": day,
        "activity": overtime.astype(np.int8),
        "hours_x100": hours_x100,
        "amount": amount,
        "delta": delta,
        "edit_at": edit_at,
        "invoice": np.where(with_invoice, first_inv, -1),
        "no_job": invoice_only,
    }
    cols = {k: v[order] for k, v in cols.items()}
    birth = birth[order]
    tables["gross_pay_items"] = Table(
        get_entity("gross_pay_items"),
        np.arange(n, dtype=np.int64),
        birth,
        _versions(birth, cols["edit_at"]),
        None,
        cols,
    )

    arng = tl.rng("payroll_adjustments")
    m = tl.count("payroll_adjustments")
    posted = tl.uniform_births(arng, m)
    t1 = jobs.cols["t1"][worked]
    t1_order = worked[np.argsort(t1, kind="stable")]
    known = np.searchsorted(np.sort(t1), posted, side="right")
    pick = np.minimum((arng.random(m) * known).astype(np.int64), max(worked.size - 1, 0))
    link = arng.choice(3, size=m, p=[0.6, 0.2, 0.2])  # job / invoice only / none
    adj_job = np.where((link == 0) & (known > 0), t1_order[pick], -1)
    inv_birth = tables["invoices"].birth
    known_inv = np.searchsorted(inv_birth, posted, side="right")
    adj_inv = np.where(
        (link == 1) & (known_inv > 0), (arng.random(m) * known_inv).astype(np.int64), -1
    )
    amount = _cents(arng, m, 4.5, 0.8) * np.where(arng.random(m) < 0.2, -1, 1)
    edit = _maybe(arng, m, 0.05, posted + _days(arng, m, 1, 30))
    tables["payroll_adjustments"] = Table(
        get_entity("payroll_adjustments"),
        tl.ids("payroll_adjustments", m, arng),
        posted,
        _versions(posted, edit),
        None,
        {
            "job": adj_job,
            "invoice": adj_inv,
            "employee": prod_techs[arng.integers(0, prod_techs.size, m)],
            "amount": amount,
            "memo": arng.integers(0, 5, m).astype(np.int8),
        },
    )


def purchasing(config: SimConfig, tl: Timeline, tables: dict[str, Table]) -> None:
    rng = tl.rng("purchase_orders")
    jobs = tables["jobs"]
    prod = np.flatnonzero(jobs.cols["role"] == 1)
    n = tl.count("purchase_orders")
    job = prod[rng.integers(0, prod.size, n)]
    date = jobs.birth[job] + _days(rng, n, 1, 10)
    order = np.argsort(date, kind="stable")
    job, date = job[order], date[order]
    canceled = rng.random(n) < 0.06
    cancel_at = np.where(canceled, date + _days(rng, n, 1, 5), NEVER)
    sent = np.where(canceled, NEVER, date + rng.integers(600, DAY, n))
    received = np.where(canceled, NEVER, sent + _days(rng, n, 1, 7))
    total = _cents(rng, n, 6.0, 0.8)
    tables["purchase_orders"] = Table(
        get_entity("purchase_orders"),
        tl.ids("purchase_orders", n, rng),
        date,
        _versions(date, sent, received, cancel_at),
        None,
        {"job": job, "total": total, "sent": sent, "received": received, "cancel": cancel_at},
    )

    brng = tl.rng("inventory_bills")
    po = np.flatnonzero(~canceled & (brng.random(n) < 0.8))
    bill_date = received[po] + _days(brng, po.size, 0, 10)
    order = np.argsort(bill_date, kind="stable")
    po, bill_date = po[order], bill_date[order]
    b_total = np.round(total[po] * brng.uniform(0.95, 1.05, po.size)).astype(np.int64)
    b_edit = _maybe(brng, po.size, 0.05, bill_date + _days(brng, po.size, 1, 30))
    tables["inventory_bills"] = Table(
        get_entity("inventory_bills"),
        tl.ids("inventory_bills", po.size, brng),
        bill_date,
        _versions(bill_date, b_edit),
        None,
        {"po": po, "total": b_total, "no_job": brng.random(po.size) < 0.12},
    )

    rrng = tl.rng("returns")
    rpo = np.flatnonzero(~canceled & (rrng.random(n) < 0.07))
    r_date = received[rpo] + _days(rrng, rpo.size, 2, 30)
    order = np.argsort(r_date, kind="stable")
    rpo, r_date = rpo[order], r_date[order]
    r_total = np.round(total[rpo] * rrng.uniform(0.05, 0.4, rpo.size)).astype(np.int64)
    tables["returns"] = Table(
        get_entity("returns"),
        tl.ids("returns", rpo.size, rrng),
        r_date,
        _versions(r_date, np.full(rpo.size, NEVER, dtype=np.int64)),
        None,
        {"po": rpo, "total": np.maximum(r_total, 100), "no_job": rrng.random(rpo.size) < 0.15},
    )
