"""The deployment's IAM grants, evaluated from terraform/'s ``*_iam_member`` and
``*_iam_binding`` resources: who holds which role on which resource, each resource named
canonically so the local IAM gate and the topology compare like with like.

Kept apart from :mod:`stkpi_tools.terraform.topology` because the table of IAM resource
types and how each names its resource grows with every kind of grant, independently of
topics, subscriptions and functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from stkpi_tools.terraform.hcl import Instance, Module, iter_instances, to_string
from stkpi_tools.terraform.resource_names import TopologyError, path_name

__all__ = ["Grant", "grants"]


@dataclass(frozen=True)
class Grant:
    """One IAM grant: ``member`` holds ``role`` on ``resource`` (a canonical resource name:
    ``projects/p``, ``projects/p/buckets/b``, ``projects/p/datasets/d``,
    ``projects/p/topics/t``, ``projects/p/subscriptions/s``, ``projects/p/secrets/s``,
    ``projects/p/services/s``, ``projects/p/serviceAccounts/email``)."""

    member: str
    role: str
    resource: str


def _project_of(inst: Instance, from_path: str | None = None) -> str:
    if from_path and from_path != "-":
        return from_path
    return inst.project


def _in_project(collection: str, arg: str) -> Callable[[Instance], str]:
    def resource(inst: Instance) -> str:
        proj, name = path_name(inst.attr(arg), collection)
        return f"projects/{_project_of(inst, proj)}/{collection}/{name}"

    return resource


def _project_resource(inst: Instance) -> str:
    value = to_string(inst.attr("project"))
    return value if value.startswith("projects/") else f"projects/{value}"


def _bucket_resource(inst: Instance) -> str:
    bucket = to_string(inst.attr("bucket")).removeprefix("b/")
    return f"projects/{inst.project}/buckets/{bucket}"


def _service_account_resource(inst: Instance) -> str:
    value = to_string(inst.attr("service_account_id"))
    m = re.fullmatch(r"projects/([^/]+)/serviceAccounts/([^/]+)", value)
    if m:
        return f"projects/{_project_of(inst, m.group(1))}/serviceAccounts/{m.group(2)}"
    if "/" in value:
        raise TopologyError(f"{inst.address}: service_account_id {value!r} is not a known form")
    return f"projects/{inst.project}/serviceAccounts/{value}"


# IAM resource type (without _iam_member / _iam_binding) -> canonical resource name
_IAM_RESOURCES: dict[str, Callable[[Instance], str]] = {
    "google_project": _project_resource,
    "google_storage_bucket": _bucket_resource,
    "google_bigquery_dataset": _in_project("datasets", "dataset_id"),
    "google_pubsub_topic": _in_project("topics", "topic"),
    "google_pubsub_subscription": _in_project("subscriptions", "subscription"),
    "google_secret_manager_secret": _in_project("secrets", "secret_id"),
    "google_cloud_run_v2_service": _in_project("services", "name"),
    "google_cloud_run_service": _in_project("services", "service"),
    "google_cloudfunctions2_function": _in_project("functions", "cloud_function"),
    "google_service_account": _service_account_resource,
}


def grants(m: Module) -> tuple[Grant, ...]:
    grants: set[Grant] = set()
    for rtype in m.resource_types():
        kind = "member" if rtype.endswith("_iam_member") else None
        kind = "binding" if rtype.endswith("_iam_binding") else kind
        if kind is None:
            continue
        base = rtype.removesuffix(f"_iam_{kind}")
        resource_of = _IAM_RESOURCES.get(base)
        if resource_of is None:
            raise TopologyError(
                f"{rtype}: IAM grants on {base} are not modelled (stkpi_tools.terraform.grants)"
            )
        for inst in iter_instances(m, rtype):
            if inst.block("condition"):
                raise TopologyError(f"{inst.address}: conditional IAM grants are not modelled")
            role = to_string(inst.attr("role"))
            resource = resource_of(inst)
            members = [inst.attr("member")] if kind == "member" else list(inst.attr("members"))
            for member in members:
                grants.add(Grant(member=to_string(member), role=role, resource=resource))
    return tuple(sorted(grants, key=lambda g: (g.resource, g.role, g.member)))
