"""Cloud Function: rebuild dims and KPI marts once per completed run."""

import functions_framework

from stkpi import context, logs, runtime
from stkpi.messages import RebuildMessage
from stkpi.rebuild import rebuild_run

logs.setup()
CTX = context.from_env()


@functions_framework.cloud_event
def rebuild_dims(cloud_event) -> None:
    runtime.run_step("rebuild_dims", RebuildMessage, cloud_event.data, rebuild_run, CTX)
