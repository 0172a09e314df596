"""Cloud Function: load one fetched window into BigQuery raw; claim the run's rebuild."""

import functions_framework

from stkpi import context, logs, runtime
from stkpi.steps import STEPS

logs.setup()
CTX = context.from_env()
MODEL, WORK = STEPS["load_batch"]


@functions_framework.cloud_event
def load_batch(cloud_event) -> None:
    runtime.run_step("load_batch", MODEL, cloud_event.data, WORK, CTX)
