"""Cloud Function: rebuild dims and KPI marts once per completed run."""

import functions_framework

from stkpi import context, logs, runtime
from stkpi.steps import STEPS

logs.setup()
CTX = context.from_env()
MODEL, WORK = STEPS["rebuild_dims"]


@functions_framework.cloud_event
def rebuild_dims(cloud_event) -> None:
    runtime.run_step("rebuild_dims", MODEL, cloud_event.data, WORK, CTX)
