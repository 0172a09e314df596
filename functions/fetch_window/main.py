"""Cloud Function: fetch one window's pages from ServiceTitan into the landing bucket."""

import functions_framework

from stkpi import context, logs, runtime
from stkpi.fetch import fetch_window as fetch
from stkpi.messages import WindowMessage

logs.setup()
CTX = context.from_env()


@functions_framework.cloud_event
def fetch_window(cloud_event) -> None:
    runtime.run_step("fetch_window", WindowMessage, cloud_event.data, fetch, CTX)
