"""Cloud Function: a plan message (scheduler or `stkpi backfill`) -> the run's windows."""

import functions_framework

from stkpi import context, logs, runtime
from stkpi.messages import PlanMessage
from stkpi.plan import plan_and_publish

logs.setup()
CTX = context.from_env()


@functions_framework.cloud_event
def plan_windows(cloud_event) -> None:
    runtime.run_step("plan_windows", PlanMessage, cloud_event.data, plan_and_publish, CTX)
