"""Cloud Function: fetch one window's pages from ServiceTitan into the landing bucket."""

import functions_framework

from stkpi import context, logs, runtime
from stkpi.steps import STEPS

logs.setup()
CTX = context.from_env()
CTX.settings.require_servicetitan()  # the one function that calls ServiceTitan: fail at start
MODEL, WORK = STEPS["fetch_window"]


@functions_framework.cloud_event
def fetch_window(cloud_event) -> None:
    runtime.run_step("fetch_window", MODEL, cloud_event.data, WORK, CTX)
