"""terraform/ applies in one pass on a fresh project: the graph Terraform orders the apply by.

Read with the project's own evaluator (``stkpi_tools.terraform``): the google provider
cannot be downloaded here, so these are the checks a first ``terraform apply`` would
otherwise make, by failing. Each test names the first-apply failure it prevents.
"""

from __future__ import annotations

import base64
import json
import re
from functools import cache
from pathlib import Path

from stkpi.messages import PlanMessage, RebuildMessage
from stkpi.tenants import secret_names
from stkpi_tools.terraform.graph import Graph, dependency_graph
from stkpi_tools.terraform.hcl import Module, iter_instances, to_string

TF = Path(__file__).resolve().parents[2] / "terraform"
PROJECT = "p"

# Resource type -> the APIs its create calls (Google's API for each resource's REST
# collection). A resource type missing here fails test_every_resource_type_is_classified:
# adding a kind of resource means saying which API it needs.
APIS: dict[str, set[str]] = {
    "data.google_project": {"cloudresourcemanager.googleapis.com"},
    "google_project_iam_member": {"cloudresourcemanager.googleapis.com"},
    "google_service_account": {"iam.googleapis.com"},
    "google_service_account_iam_member": {"iam.googleapis.com"},
    "google_storage_bucket": {"storage.googleapis.com"},
    "google_storage_bucket_object": {"storage.googleapis.com"},
    "google_storage_bucket_iam_member": {"storage.googleapis.com"},
    "google_pubsub_topic": {"pubsub.googleapis.com"},
    "google_pubsub_topic_iam_member": {"pubsub.googleapis.com"},
    "google_pubsub_subscription": {"pubsub.googleapis.com"},
    "google_pubsub_subscription_iam_member": {"pubsub.googleapis.com"},
    "google_bigquery_dataset": {"bigquery.googleapis.com"},
    "google_bigquery_dataset_iam_member": {"bigquery.googleapis.com"},
    "google_bigquery_table": {"bigquery.googleapis.com"},
    "google_secret_manager_secret": {"secretmanager.googleapis.com"},
    "google_secret_manager_secret_iam_member": {"secretmanager.googleapis.com"},
    # a gen2 function: Cloud Functions, built by Cloud Build into Artifact Registry, run on
    # Cloud Run
    "google_cloudfunctions2_function": {
        "cloudfunctions.googleapis.com",
        "cloudbuild.googleapis.com",
        "artifactregistry.googleapis.com",
        "run.googleapis.com",
    },
    "google_cloud_run_v2_service_iam_member": {"run.googleapis.com"},
    "google_cloud_scheduler_job": {"cloudscheduler.googleapis.com"},
    "google_logging_metric": {"logging.googleapis.com"},
    "google_monitoring_notification_channel": {"monitoring.googleapis.com"},
    "google_monitoring_alert_policy": {"monitoring.googleapis.com"},
    # calls no Google API
    "google_project_service": set(),
    "data.archive_file": set(),
    "time_sleep": set(),
}

# Resource type -> the argument that names it, for names that must be unique in a project
# (buckets: in the world). Types whose names live inside another resource (tables in a
# dataset, objects in a bucket) or that have none (IAM members, APIs) are NOT_NAMED.
UNIQUE_NAMES: dict[str, str] = {
    "google_pubsub_topic": "name",
    "google_pubsub_subscription": "name",
    "google_cloudfunctions2_function": "name",
    "google_service_account": "account_id",
    "google_secret_manager_secret": "secret_id",
    "google_cloud_scheduler_job": "name",
    "google_logging_metric": "name",
    "google_storage_bucket": "name",
    "google_bigquery_dataset": "dataset_id",
    # not unique by Google's rules, but two deployments' alerts must be told apart
    "google_monitoring_alert_policy": "display_name",
    "google_monitoring_notification_channel": "display_name",
}
NOT_NAMED = {
    "google_project_service",
    "google_project_iam_member",
    "google_service_account_iam_member",
    "google_storage_bucket_object",
    "google_storage_bucket_iam_member",
    "google_pubsub_topic_iam_member",
    "google_pubsub_subscription_iam_member",
    "google_bigquery_dataset_iam_member",
    "google_bigquery_table",
    "google_secret_manager_secret_iam_member",
    "google_cloud_run_v2_service_iam_member",
    "time_sleep",
}
LONGEST_PREFIX = "abcdefghi-"  # name_prefix's validation allows 10 characters
# Two added tenants (docs/TENANTS.md), so every check here covers their resources too.
TENANTS = {"2000": ("Acme Painting", "America/New_York"), "31": ("Desert Coatings", "UTC")}


@cache
def _module(**variables: str) -> Module:
    tenants = {tid: {"display_name": name, "time_zone": zone}
               for tid, (name, zone) in TENANTS.items()}  # fmt: skip
    return Module(
        TF,
        {"project_id": PROJECT, "alert_email": "ops@example.com", "tenants": tenants, **variables},
    )


@cache
def _graph() -> Graph:
    return dependency_graph(_module())


def _addresses(m: Module) -> list[tuple[str, str]]:
    """(address, kind) of every resource and data source; kind = type or data.type."""
    out = [(f"{t}.{n}", t) for t, n in m.resources()]
    out += [(f"data.{t}.{n}", f"data.{t}") for t, n in m.resources(data=True)]
    return out


def _enabled_by(m: Module, addresses: frozenset[str]) -> set[str]:
    """The APIs the google_project_service resources among ``addresses`` enable."""
    out: set[str] = set()
    for address in addresses:
        rtype, name = address.split(".", 1)
        if rtype == "google_project_service":
            out |= {to_string(i.attr("service")) for i in m.instances(rtype, name).values()}
    return out


def test_every_resource_type_is_classified() -> None:
    m = _module()
    kinds = {kind for _, kind in _addresses(m)}
    assert not kinds - set(APIS), f"say which API these call (APIS): {sorted(kinds - set(APIS))}"
    managed = set(m.resource_types())
    unclassified = managed - set(UNIQUE_NAMES) - NOT_NAMED
    assert not unclassified, f"say whether these need a unique name: {sorted(unclassified)}"


def test_every_api_the_deploy_calls_is_enabled() -> None:
    # e.g. data.google_project and the project IAM grants call Resource Manager: without
    # cloudresourcemanager enabled, a fresh project answers SERVICE_DISABLED
    m = _module()
    used = set().union(*(APIS[kind] for _, kind in _addresses(m)))
    enabled = _enabled_by(
        m, frozenset(a for a, k in _addresses(m) if k == "google_project_service")
    )
    assert not used - enabled, f"enable in google_project_service: {sorted(used - enabled)}"


def test_every_resource_waits_for_the_api_it_calls() -> None:
    # Terraform creates what does not depend on google_project_service in parallel with
    # the API's enabling: on a fresh project such a create fails with SERVICE_DISABLED
    m, graph = _module(), _graph()
    missing = {}
    for address, kind in _addresses(m):
        needs = APIS[kind] - _enabled_by(m, graph.depends_on(address))
        if needs:
            missing[address] = sorted(needs)
    assert not missing, f"these must depend on the google_project_service of: {missing}"


def test_alert_policies_wait_for_their_new_log_metrics() -> None:
    # Monitoring answers 404 for a log-based metric created minutes ago ("could take up to
    # 10 minutes"): a policy naming one must wait, after the metric, at least that long
    m, graph = _module(), _graph()
    metric_names = {
        to_string(i.attr("name")): f"google_logging_metric.{i.name}"
        for i in iter_instances(m, "google_logging_metric")
    }
    sleeps = {
        f"time_sleep.{i.name}": _minutes(to_string(i.attr("create_duration")))
        for i in iter_instances(m, "time_sleep")
    }
    checked = 0
    for policy in iter_instances(m, "google_monitoring_alert_policy"):
        text = " ".join(
            to_string(threshold.attr(arg, ""))
            for cond in policy.block("conditions")
            for threshold in cond.block("condition_threshold")
            for arg in ("filter", "denominator_filter")
        )
        used = {
            metric_names[n] for n in re.findall(r"logging\.googleapis\.com/user/([\w/.-]+)", text)
        }
        address = f"google_monitoring_alert_policy.{policy.name}"
        for metric in used:
            waits = [
                s
                for s, minutes in sleeps.items()
                if minutes >= 10
                and s in graph.depends_on(address)
                and metric in graph.depends_on(s)
            ]
            assert waits, f"{address} names {metric} but waits >= 10 min after it nowhere"
            checked += 1
    assert checked >= 3  # freshness, volume_drop, function_error_rate


def _minutes(duration: str) -> float:
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert m and duration, duration
    h, mi, s = (int(x or 0) for x in m.groups())
    return h * 60 + mi + s / 60


def test_no_function_mounts_a_secret_version_at_deploy_time() -> None:
    # Cloud Run refuses a revision whose mounted secret version does not exist, and the
    # ServiceTitan secrets have no version until someone adds the values after the apply:
    # the functions read them at call time (ST_SECRETS, stkpi.secrets)
    m = _module()
    for fn in iter_instances(m, "google_cloudfunctions2_function"):
        for sc in fn.block("service_config"):
            assert not sc.block("secret_environment_variables"), fn.address
            assert not sc.block("secret_volumes"), fn.address
    readers = [
        fn.address
        for fn in iter_instances(m, "google_cloudfunctions2_function")
        if "ST_SECRETS" in fn.block("service_config")[0].attr("environment_variables")
    ]
    assert len(readers) == 2, readers  # fetch_window and rebuild_dims


def _unique_names(m: Module) -> dict[str, str]:
    """name -> the instance that holds it, for every name that must be unique."""
    out: dict[str, str] = {}
    for rtype, attr in UNIQUE_NAMES.items():
        for inst in iter_instances(m, rtype):
            name = f"{rtype}:{to_string(inst.attr(attr))}"  # unique among its own kind
            assert name not in out, f"{inst.address} and {out[name]} share the name {name!r}"
            out[name] = inst.address
    return out


def test_two_deployments_in_one_project_share_no_name() -> None:
    # a second apply in the same project with another prefix must not meet a 409
    first, second = _unique_names(_module()), _unique_names(_module(name_prefix="b-"))
    shared = sorted(set(first) & set(second))
    assert not shared, f"names the prefix does not reach: {shared}"
    two = _unique_names(_module(name_prefix="a-"))
    assert not set(two) & set(second)


def test_service_account_ids_fit_with_the_longest_prefix() -> None:
    m = _module(name_prefix=LONGEST_PREFIX)
    for inst in iter_instances(m, "google_service_account"):
        account = to_string(inst.attr("account_id"))
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", account), (inst.address, account)
    for inst in iter_instances(m, "google_storage_bucket"):
        assert len(to_string(inst.attr("name"))) <= 63 - 30 + len(PROJECT), inst.address


def test_each_tenants_secrets_are_read_by_the_servicetitan_functions_only() -> None:
    # one binding per (function, secret), roles/secretmanager.secretAccessor on that secret:
    # never a project-level grant, which would open every secret in the project
    m = _module()
    # the accounts that read the default tenant's secrets (fetch_window, rebuild_dims)
    readers = {
        to_string(g.attr("member"))
        for g in iter_instances(m, "google_secret_manager_secret_iam_member")
        if g.name == "reads_st"
    }
    assert len(readers) == 2
    secrets = {
        f"projects/{PROJECT}/secrets/{to_string(s.attr('secret_id'))}"
        for s in iter_instances(m, "google_secret_manager_secret")
        if s.name == "tenant"
    }
    # the names `stkpi tenant add` reads by default, for each tenant
    assert secrets == {name for tid in TENANTS for name in secret_names(PROJECT, tid).values()}
    granted = {
        (to_string(g.attr("secret_id")), to_string(g.attr("member")))
        for g in iter_instances(m, "google_secret_manager_secret_iam_member")
        if g.name == "reads_tenant"
        and to_string(g.attr("role")) == "roles/secretmanager.secretAccessor"
    }
    assert granted == {(s, r) for s in secrets for r in readers}
    for grant in iter_instances(m, "google_project_iam_member"):
        assert "secretmanager" not in to_string(grant.attr("role")), grant.address


def test_each_tenants_datasets_are_granted_as_the_deployments_own() -> None:
    # one dataset per (tenant, layer), named as stkpi.tenants.dataset_prefix names it, and
    # the functions' and operators' roles on each exactly as on the deployment's own layer
    m = _module()
    own = {
        to_string(d.attr("dataset_id")): str(d.key)
        for d in iter_instances(m, "google_bigquery_dataset")
        if d.name == "layer"
    }
    layers = sorted(own.values())
    added = {
        to_string(d.attr("dataset_id")): str(d.key)
        for d in iter_instances(m, "google_bigquery_dataset")
        if d.name == "tenant_layer"
    }
    assert added == {f"st_t{tid}_{layer}": f"{tid}/{layer}" for tid in TENANTS for layer in layers}

    def roles(names: tuple[str, ...], datasets: dict[str, str]) -> dict[str, set]:
        out: dict[str, set] = {}
        for g in iter_instances(m, "google_bigquery_dataset_iam_member"):
            if g.name in names:
                where = datasets[to_string(g.attr("dataset_id"))]
                tenant, _, layer = where.rpartition("/")
                member, role = to_string(g.attr("member")), to_string(g.attr("role"))
                out.setdefault(tenant, set()).add((layer, member, role))
        return out

    deployment = roles(("fn",), own)[""]
    per_tenant = roles(("fn_tenant",), added)
    assert set(per_tenant) == set(TENANTS)
    for tid, granted in per_tenant.items():
        assert granted == deployment, tid
    # operators make the tenant's tables (`stkpi tenant add`): dataEditor on its layers
    operators = {"user:ops@example.com", "group:leads@example.com"}
    tenants = {tid: {"display_name": name, "time_zone": zone}
               for tid, (name, zone) in TENANTS.items()}  # fmt: skip
    m = Module(TF, {"project_id": PROJECT, "alert_email": "ops@example.com",
                    "tenants": tenants, "operator_members": sorted(operators)})  # fmt: skip
    operator = {
        (to_string(g.attr("dataset_id")), to_string(g.attr("member")), to_string(g.attr("role")))
        for g in iter_instances(m, "google_bigquery_dataset_iam_member")
        if g.name == "operator_tenant"
    }
    assert operator == {(d, o, "roles/bigquery.dataEditor") for d in added for o in operators}


def test_no_tenant_no_tenant_secret() -> None:
    m = Module(TF, {"project_id": PROJECT, "alert_email": "ops@example.com"})
    assert not [s for s in iter_instances(m, "google_secret_manager_secret") if s.name == "tenant"]
    assert not [d for d in iter_instances(m, "google_bigquery_dataset") if d.name == "tenant_layer"]


def _scheduled(m: Module) -> dict[str, tuple[str, str, dict]]:
    """Every Scheduler job: name -> (time zone, cron, the message it publishes)."""
    return {
        to_string(j.attr("name")): (
            to_string(j.attr("time_zone")),
            to_string(j.attr("schedule")),
            json.loads(base64.b64decode(to_string(j.block("pubsub_target")[0].attr("data")))),
        )
        for j in iter_instances(m, "google_cloud_scheduler_job")
    }


def test_each_tenant_gets_every_schedule_in_its_own_time_zone() -> None:
    """An added tenant's daily run starts at 02:00 on ITS clock, not the deployment's, and
    its messages name it (docs/TENANTS.md; the default tenant's jobs stay as they were)."""
    m = _module()
    jobs = _scheduled(m)
    default = {n: j for n, j in jobs.items() if not re.match(r"st-kpi-t\d+-", n)}
    assert set(default) == {"st-kpi-daily-incremental", "st-kpi-weekly-reference",
                            "st-kpi-weekly-deletes", "st-kpi-daily-validation"}  # fmt: skip
    assert {zone for zone, _, _ in default.values()} == {"America/Phoenix"}
    assert not [j for j in default.values() if "tenant_id" in j[2]]
    for tid, (_, zone) in TENANTS.items():
        for name, (_, cron, message) in default.items():
            mine = name.replace("st-kpi-", f"st-kpi-t{tid}-")
            # the same cron and message as the default tenant's job, in the tenant's zone,
            # its message naming it
            assert jobs[mine] == (zone, cron, {**message, "tenant_id": tid}), mine
    daily = jobs["st-kpi-t2000-daily-incremental"]
    assert daily[0] == "America/New_York"
    assert daily[2] == {"v": 1, "run_type": "daily", "entities": [], "tenant_id": "2000"}
    assert len(jobs) == 4 * (1 + len(TENANTS))


def test_tenant_jobs_publish_where_the_default_jobs_do() -> None:
    m = _module()
    topic = {
        to_string(j.attr("name")): to_string(j.block("pubsub_target")[0].attr("topic_name"))
        for j in iter_instances(m, "google_cloud_scheduler_job")
    }
    for name, where in topic.items():
        assert where == topic[re.sub(r"^st-kpi-t\d+-", "st-kpi-", name)], name


def test_tenant_messages_pass_the_message_schemas() -> None:
    schema = {"plan": PlanMessage, "rebuild": RebuildMessage}
    m = _module()
    for j in iter_instances(m, "google_cloud_scheduler_job"):
        target = j.block("pubsub_target")[0]
        kind = "plan" if to_string(target.attr("topic_name")).endswith("st-plan") else "rebuild"
        message = json.loads(base64.b64decode(to_string(target.attr("data"))))
        assert schema[kind].model_validate(message).tenant_id == message.get("tenant_id")


def test_no_tenant_no_tenant_job() -> None:
    m = Module(TF, {"project_id": PROJECT, "alert_email": "ops@example.com"})
    assert len(_scheduled(m)) == 4


def test_the_local_stacks_tenants_evaluate_with_their_zones() -> None:
    """The local stack evaluates terraform/ with its tenants file (terraform_tenants): the
    demo's tenants get their Scheduler jobs in the zones their simulator runs in."""
    from stkpi_tools.localstack.tenants import demo_tenants_file, terraform_tenants
    from stkpi_tools.sim.config import load_tenant_specs

    specs = load_tenant_specs(demo_tenants_file())
    m = Module(TF, {"project_id": PROJECT, "alert_email": "ops@example.com",
                    "tenants": terraform_tenants(specs)})  # fmt: skip
    jobs = _scheduled(m)
    assert specs
    for spec in specs:
        zone, _, message = jobs[f"st-kpi-t{spec.tenant_id}-daily-incremental"]
        assert (zone, message["tenant_id"]) == (spec.time_zone, spec.tenant_id)
