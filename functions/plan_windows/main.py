"""Cloud Function: a plan message (scheduler or `stkpi backfill`) -> the run's windows."""

import functions_framework

from stkpi import context, logs, runtime
from stkpi.steps import STEPS

logs.setup()
CTX = context.from_env()
MODEL, WORK = STEPS["plan_windows"]


@functions_framework.cloud_event
def plan_windows(cloud_event) -> None:
    runtime.run_step("plan_windows", MODEL, cloud_event.data, WORK, CTX)
