"""One clock (stkpi.clock): nothing reads the wall clock for the tenant's "now".

The planner, the marts' validations, the report, the reconciliation and the status read
the tenant's present from ``PipelineContext.tenant_now`` (the simulator's clock on the
local stack). Each module below reads the machine's clock for something that is the
machine's: when an event happened, when a staging table expires, how long to wait, a
run id. A new reading of the wall clock must say here why it is not the tenant's time;
before issue #35, the validations, the report and the status counted weeks back from the
wall clock while the simulator's tenant stood at 2025-10-01.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WALL_CLOCK = re.compile(r"datetime\.now\(|\btime\.time\(\)|date\.today\(\)|datetime\.utcnow\(")

MACHINE_TIME = {
    "shared/stkpi/clock.py": "the wall clock itself (the cloud's tenant clock)",
    "shared/stkpi/state.py": "event times of st_ops rows: when the machine recorded them",
    "shared/stkpi/warehouse.py": "a staging table's expiration (BigQuery's clock)",
    "shared/stkpi/servicetitan/retry.py": "a Retry-After date against the server's clock",
    "shared/stkpi/reconcile/daily.py": "report calls younger than a minute (the API's limit)",
    "shared/stkpi_tools/cli/pipeline.py": "run ids unique per invocation",
    "shared/stkpi_tools/cli/quarantine.py": "replay run ids unique per invocation",
    "shared/stkpi_tools/cli/tenant.py": "when an operator's map edit was written (latest wins)",
    "shared/stkpi_tools/tenant/init.py": "when the tenant's maps were written (latest wins)",
    "shared/stkpi_tools/tenant/simulated.py": "when the simulator's maps were written",
    "shared/stkpi_tools/chaos/runner.py": "when a chaos report was written",
    "shared/stkpi_tools/chaos/soak.py": "when a soak report was written",
    "shared/stkpi_tools/chaos/lab.py": "when a lab registered its added tenants (latest wins)",
    "shared/stkpi_tools/bench/reads.py": "when the reads bench measured its figures",
    "shared/stkpi_tools/demo.py": "the demo's default hour (--now sets it)",
    "shared/stkpi_tools/doctor/run.py": "a real tenant's backfill estimate (its clock is the wall)",
    "shared/stkpi_tools/localstack/stack.py": "when a stack started",
    "shared/stkpi_tools/localstack/iam/gate.py": "when the IAM gate judged a call",
    "shared/stkpi_tools/localstack/iam/refresh_roles.py": "when the role data was extracted",
}


def test_the_wall_clock_is_read_only_for_the_machines_time() -> None:
    readers = set()
    for path in sorted((ROOT / "shared").rglob("*.py")) + sorted(
        (ROOT / "functions").rglob("*.py")
    ):
        code = "\n".join(ln.split("#", 1)[0] for ln in path.read_text().splitlines())
        if WALL_CLOCK.search(code):
            readers.add(str(path.relative_to(ROOT)))
    assert readers - set(MACHINE_TIME) == set(), "reads the wall clock; the tenant's? stkpi.clock"
    assert set(MACHINE_TIME) - readers == set(), "no longer reads the wall clock: drop it here"


def test_the_cloud_deployment_reads_the_wall_clock() -> None:
    """terraform/ never sets TENANT_CLOCK_URL: a deployed function's tenant clock is the
    wall clock (stkpi.clock); only the local stack points it at the simulator."""
    from stkpi_tools.terraform.topology import load_topology, terraform_dir

    topology = load_topology(terraform_dir(), {"project_id": "p"})
    assert len(topology.functions) == 4
    for fn in topology.functions.values():
        assert "TENANT_CLOCK_URL" not in fn.env and "TENANT_CLOCK_URL" not in fn.secret_env
    assert "TENANT_CLOCK_URL" not in (terraform_dir() / "functions.tf").read_text()
