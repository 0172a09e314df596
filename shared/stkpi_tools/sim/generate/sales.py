"""Sales steps: estimates on estimate visits, invoices on finished jobs and their payments.

Amounts are integer cents so every invoice's applied payments sum exactly; the jobs they
belong to come from ``crm``.
"""

from __future__ import annotations

import numpy as np

from stkpi_tools.sim import catalog as cat
from stkpi_tools.sim.clock import DAY, HOUR, NEVER
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.generate.timeline import Timeline, by_time, cents, days, maybe, table
from stkpi_tools.sim.tables import Table


def estimates(config: SimConfig, tl: Timeline, tables: dict[str, Table]) -> None:
    rng = tl.rng("estimates")
    jobs = tables["jobs"]
    eligible = np.flatnonzero((jobs.cols["role"] == 0) & (jobs.cols["outcome"] != 1))
    n = tl.count("estimates", minimum=30)
    first = rng.permutation(eligible)[: min(n, eligible.size)]
    job = np.concatenate([first, rng.choice(eligible, size=n - first.size)])
    birth = jobs.cols["last_start"][job] + rng.integers(HOUR, 3 * HOUR, n)
    birth, job = by_time(birth, job)
    u = rng.random(n)
    weeks_later = birth + (np.minimum(7 + rng.exponential(25, n), 200) * DAY).astype(np.int64)
    same_day = birth + rng.integers(HOUR, 8 * HOUR, n)
    sold_at = np.where(u < 0.05, same_day, np.where(u < 0.37, weeks_later, NEVER))
    dismissed = (u >= 0.37) & (u < 0.62)
    dismissed_at = np.where(dismissed, birth + days(rng, n, 5, 120), NEVER)
    leftover = dismissed & (rng.random(n) < 0.15)  # sold, then dismissed: soldOn stays
    sold_at = np.where(leftover, birth + days(rng, n, 1, 4), sold_at)
    subtotal = cents(rng, n, 8.0, 0.8)
    taxed = rng.random(n) < 0.3
    tax = np.where(taxed, np.round(subtotal * 0.086).astype(np.int64), 0)
    tech = tables["technicians"]
    sales_techs = np.flatnonzero(np.isin(tech.cols["bu"], list(cat.BU_SALES.values())))
    late_edit = maybe(rng, n, 0.05, birth + days(rng, n, 30, 300))
    tables["estimates"] = table(
        "estimates",
        tl.ids("estimates", n, rng),
        birth,
        (sold_at, dismissed_at, late_edit),
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
    birth = np.where(is_first, t1 + rng.integers(HOUR, 48 * HOUR, n), t1 + days(rng, n, 1, 45))
    birth, job, is_first = by_time(birth, job, is_first)
    warranty = jobs.cols["role"][job] == 2
    sub = np.where(is_first, cents(rng, n, 8.2, 0.7), cents(rng, n, 6.5, 0.9))
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
    second_at = first_at + days(prng, payable.size, 3, 60)
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
    p_birth, inv_a, amt_a, inv_b, amt_b, paid = by_time(p_birth, inv_a, amt_a, inv_b, amt_b, paid)
    m = paid.size
    p_edit = maybe(prng, m, 0.03, p_birth + days(prng, m, 1, 60))
    tables["payments"] = table(
        "payments",
        tl.ids("payments", m, prng),
        p_birth,
        (p_edit,),
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
    late_edit = maybe(rng, n, 0.05, birth + days(rng, n, 10, 300))
    tables["invoices"] = table(
        "invoices",
        ids,
        birth,
        (pay_times[:, 0], pay_times[:, 1], late_edit),
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
