"""Cloud Function: load one fetched window into BigQuery raw; claim the run's rebuild."""

import functions_framework

from stkpi import context, logs, runtime
from stkpi.load import load_window
from stkpi.messages import LoadMessage

logs.setup()
CTX = context.from_env()


@functions_framework.cloud_event
def load_batch(cloud_event) -> None:
    runtime.run_step("load_batch", LoadMessage, cloud_event.data, load_window, CTX)
