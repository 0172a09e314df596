"""Cloud Function: fetch one window's pages from ServiceTitan into the landing bucket."""

import functions_framework

from stkpi import context, logs, runtime
from stkpi.steps import STEPS

logs.setup()
CTX = context.from_env()
CTX.settings.require_function()
CTX.settings.require_servicetitan()  # the one function that calls ServiceTitan: fail at start
MODEL, WORK = STEPS["fetch_window"]


@functions_framework.http
def fetch_window(request):
    """A Pub/Sub push delivery (terraform/pubsub.tf): 2xx acks, anything else retries."""
    return runtime.handle_push("fetch_window", MODEL, request.get_json(silent=True), WORK, CTX)
