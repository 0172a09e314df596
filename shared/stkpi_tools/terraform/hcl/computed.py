"""Attributes Terraform computes at apply (ids, emails, URLs) that the deployment's shape
needs at plan time: derived here from the instance's own arguments, with placeholders
(a project number) where the real value cannot be known.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stkpi_tools.terraform.hcl.values import to_string

if TYPE_CHECKING:
    from stkpi_tools.terraform.hcl.views import Instance


PROJECT_NUMBER_PLACEHOLDER = "000000000000"


def _sa_email(i: Instance) -> str:
    return f"{to_string(i.attr('account_id'))}@{i.project}.iam.gserviceaccount.com"


def _fn_uri(i: Instance) -> str:
    return f"https://{to_string(i.attr('name'))}-{i.project}.run.app"


# (kind, attribute path) -> value. kind is the resource type, or "data.<type>"; a nested
# block's attribute is "block.attr" (service_config[0].uri -> "service_config.uri").
COMPUTED: dict[tuple[str, str], Callable[[Instance], Any]] = {
    ("google_pubsub_topic", "id"): lambda i: f"projects/{i.project}/topics/{i.attr('name')}",
    ("google_pubsub_subscription", "id"): (
        lambda i: f"projects/{i.project}/subscriptions/{i.attr('name')}"
    ),
    ("google_service_account", "email"): _sa_email,
    ("google_service_account", "member"): lambda i: f"serviceAccount:{_sa_email(i)}",
    ("google_service_account", "id"): lambda i: (
        f"projects/{i.project}/serviceAccounts/{_sa_email(i)}"
    ),
    ("google_service_account", "name"): (
        lambda i: f"projects/{i.project}/serviceAccounts/{_sa_email(i)}"
    ),
    ("google_bigquery_dataset", "id"): (
        lambda i: f"projects/{i.project}/datasets/{i.attr('dataset_id')}"
    ),
    ("google_storage_bucket", "id"): lambda i: i.attr("name"),
    ("google_storage_bucket", "url"): lambda i: f"gs://{i.attr('name')}",
    ("google_cloudfunctions2_function", "service_config.uri"): _fn_uri,
    ("google_cloudfunctions2_function", "url"): _fn_uri,
    ("google_cloudfunctions2_function", "id"): (
        lambda i: f"projects/{i.project}/locations/{i.attr('location')}/functions/{i.attr('name')}"
    ),
    ("google_secret_manager_secret", "id"): (
        lambda i: f"projects/{i.project}/secrets/{i.attr('secret_id')}"
    ),
    ("google_secret_manager_secret", "name"): (
        lambda i: f"projects/{PROJECT_NUMBER_PLACEHOLDER}/secrets/{i.attr('secret_id')}"
    ),
    ("data.google_project", "number"): lambda i: PROJECT_NUMBER_PLACEHOLDER,
    ("data.google_project", "project_id"): lambda i: i.project,
}
