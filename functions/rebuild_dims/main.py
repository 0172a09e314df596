"""Cloud Function: rebuild dims and KPI marts once per completed run."""

import functions_framework

from stkpi import context, logs, runtime
from stkpi.steps import STEPS

logs.setup()
CTX = context.from_env()
CTX.settings.require_function()
MODEL, WORK = STEPS["rebuild_dims"]


@functions_framework.http
def rebuild_dims(request):
    """A Pub/Sub push delivery (terraform/pubsub.tf): 2xx acks, anything else retries."""
    return runtime.handle_push("rebuild_dims", MODEL, request.get_json(silent=True), WORK, CTX)
