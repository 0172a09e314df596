"""Cloud Function: load one fetched window into BigQuery raw; claim the run's rebuild."""

import functions_framework

from stkpi import context, logs, runtime
from stkpi.steps import STEPS

logs.setup()
CTX = context.from_env()
CTX.settings.require_function()
MODEL, WORK = STEPS["load_batch"]


@functions_framework.http
def load_batch(request):
    """A Pub/Sub push delivery (terraform/pubsub.tf): 2xx acks, anything else retries."""
    return runtime.handle_push("load_batch", MODEL, request.get_json(silent=True), WORK, CTX)
