"""Back-office steps: payroll (pay items, adjustments) and purchasing (orders, bills, returns).

Both follow finished work: pay items hang on a job's last visit and are sized on its
invoice, purchase orders on production jobs (``crm``, ``sales``).
"""

from __future__ import annotations

import numpy as np

from stkpi_tools.sim import catalog as cat
from stkpi_tools.sim.clock import DAY, NEVER
from stkpi_tools.sim.config import SimConfig
from stkpi_tools.sim.generate.timeline import Timeline, by_time, cents, days, maybe, table
from stkpi_tools.sim.tables import Table


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
    birth = jobs.cols["t1"][job] + days(rng, n, 1, 4)
    rate = rng.integers(2200, 3800, n)
    overtime = slot % 2 == 1
    # Labour follows the job's size, as a crew's hours do: 25-45% of all it is billed (its
    # invoices' positive subtotals, follow-up invoices included) split over its pay items,
    # up to 400 hours an item, so a BU-week's gross margin lands where a painting
    # contractor's does (under 80%) however few jobs it has. Paying on the first invoice
    # alone, capped at 60 hours, left large and multi-invoice jobs nearly labour-free and
    # small weeks at 90%+ GPM (the kpi.ranges check rightly called them implausible).
    # A job never invoiced gets 2-9 hours an item.
    share = np.repeat(rng.uniform(0.25, 0.45, worked.size), per_job)
    invoices = tables["invoices"]
    job_billed = np.bincount(
        invoices.cols["job"], weights=np.maximum(invoices.cols["sub"], 0), minlength=jobs.size
    )
    billed = np.round(job_billed[job]).astype(np.int64)
    fair = (
        billed * share * 100 / (rate * np.repeat(per_job, per_job) * np.where(overtime, 1.5, 1.0))
    )
    hours_x100 = np.where(
        billed > 0, np.clip(np.round(fair), 50, 40000), rng.integers(200, 900, n)
    ).astype(np.int64)
    amount = np.round(hours_x100 * rate * np.where(overtime, 1.5, 1.0) / 100).astype(np.int64)
    edit_at = maybe(rng, n, 0.1, birth + days(rng, n, 7, 30))
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
    tables["gross_pay_items"] = table(
        "gross_pay_items", np.arange(n, dtype=np.int64), birth, (cols["edit_at"],), cols
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
    amount = cents(arng, m, 4.5, 0.8) * np.where(arng.random(m) < 0.2, -1, 1)
    edit = maybe(arng, m, 0.05, posted + days(arng, m, 1, 30))
    tables["payroll_adjustments"] = table(
        "payroll_adjustments",
        tl.ids("payroll_adjustments", m, arng),
        posted,
        (edit,),
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
    date = jobs.birth[job] + days(rng, n, 1, 10)
    date, job = by_time(date, job)
    canceled = rng.random(n) < 0.06
    cancel_at = np.where(canceled, date + days(rng, n, 1, 5), NEVER)
    sent = np.where(canceled, NEVER, date + rng.integers(600, DAY, n))
    received = np.where(canceled, NEVER, sent + days(rng, n, 1, 7))
    total = cents(rng, n, 6.0, 0.8)
    tables["purchase_orders"] = table(
        "purchase_orders",
        tl.ids("purchase_orders", n, rng),
        date,
        (sent, received, cancel_at),
        {"job": job, "total": total, "sent": sent, "received": received, "cancel": cancel_at},
    )

    brng = tl.rng("inventory_bills")
    po = np.flatnonzero(~canceled & (brng.random(n) < 0.8))
    bill_date = received[po] + days(brng, po.size, 0, 10)
    bill_date, po = by_time(bill_date, po)
    b_total = np.round(total[po] * brng.uniform(0.95, 1.05, po.size)).astype(np.int64)
    b_edit = maybe(brng, po.size, 0.05, bill_date + days(brng, po.size, 1, 30))
    tables["inventory_bills"] = table(
        "inventory_bills",
        tl.ids("inventory_bills", po.size, brng),
        bill_date,
        (b_edit,),
        {"po": po, "total": b_total, "no_job": brng.random(po.size) < 0.12},
    )

    rrng = tl.rng("returns")
    rpo = np.flatnonzero(~canceled & (rrng.random(n) < 0.07))
    r_date = received[rpo] + days(rrng, rpo.size, 2, 30)
    r_date, rpo = by_time(r_date, rpo)
    r_total = np.round(total[rpo] * rrng.uniform(0.05, 0.4, rpo.size)).astype(np.int64)
    tables["returns"] = table(
        "returns",
        tl.ids("returns", rpo.size, rrng),
        r_date,
        (np.full(rpo.size, NEVER, dtype=np.int64),),
        {"po": rpo, "total": np.maximum(r_total, 100), "no_job": rrng.random(rpo.size) < 0.15},
    )
