"""Cloud Function: a plan message (scheduler or `stkpi backfill`) -> the run's windows."""

import functions_framework

from stkpi import context, logs, runtime
from stkpi.steps import STEPS

logs.setup()
CTX = context.from_env()
CTX.settings.require_function()
MODEL, WORK = STEPS["plan_windows"]


@functions_framework.http
def plan_windows(request):
    """A Pub/Sub push delivery (terraform/pubsub.tf): 2xx acks, anything else retries."""
    return runtime.handle_push("plan_windows", MODEL, request.get_json(silent=True), WORK, CTX)
