"""IAM policy of the local stack: role data, inheritance, and unknown roles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from stkpi_tools.localstack.iam import Grant, Policy, PolicyError, load_roles
from stkpi_tools.localstack.iam.policy import ROLES_FILE
from stkpi_tools.localstack.iam.refresh_roles import BASE_ROLES

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"
P = "proj"
SA = "serviceAccount:fn@proj.iam.gserviceaccount.com"
OTHER = "serviceAccount:other@proj.iam.gserviceaccount.com"


def terraform_roles() -> set[str]:
    """Every predefined role named anywhere in terraform/*.tf (grants, bindings, locals)."""
    found: set[str] = set()
    for path in TERRAFORM.glob("*.tf"):
        found |= set(re.findall(r'"(roles/[A-Za-z0-9_.]+)"', path.read_text()))
    return found


def test_every_role_terraform_grants_has_permission_data() -> None:
    roles = terraform_roles()
    assert roles, "no roles found in terraform/*.tf: the pattern is stale"
    missing = sorted(roles - set(load_roles()))
    assert not missing, (
        f"terraform/ grants {missing} but stkpi/localstack/iam/roles.json has no permissions "
        "for them: run python -m stkpi_tools.localstack.iam.refresh_roles --git-dir <iam-dataset> ROLE"
    )


def test_roles_file_names_its_source_and_lists_sorted_permissions() -> None:
    data = json.loads(ROLES_FILE.read_text())
    assert "iam-dataset" in data["_source"]
    assert set(BASE_ROLES) <= set(data)
    for role, perms in data.items():
        if role.startswith("_"):
            continue
        assert role.startswith("roles/")
        assert perms == sorted(set(perms)) and perms, role


def test_role_facts_the_rules_rely_on() -> None:
    roles = load_roles()
    user, creator = roles["roles/storage.objectUser"], roles["roles/storage.objectCreator"]
    assert {"storage.objects.create", "storage.objects.delete", "storage.objects.get"} <= user
    assert "storage.buckets.get" not in user
    assert "storage.objects.create" in creator and "storage.objects.delete" not in creator
    viewer = roles["roles/storage.objectViewer"]
    assert {"storage.objects.get", "storage.objects.list"} <= viewer
    editor = roles["roles/bigquery.dataEditor"]
    assert {"bigquery.tables.create", "bigquery.tables.updateData"} <= editor
    assert "bigquery.jobs.create" not in editor
    assert roles["roles/bigquery.jobUser"] >= {"bigquery.jobs.create"}
    assert "bigquery.tables.updateData" not in roles["roles/bigquery.dataViewer"]
    assert roles["roles/pubsub.publisher"] == frozenset({"pubsub.topics.publish"})
    assert "pubsub.subscriptions.consume" in roles["roles/pubsub.subscriber"]


def policy(*grants: Grant) -> Policy:
    return Policy(grants, load_roles())


def test_dataset_grant_covers_its_tables_only() -> None:
    pol = policy(Grant(SA, "roles/bigquery.dataEditor", f"projects/{P}/datasets/raw"))
    assert pol.allows(SA, "bigquery.tables.create", f"projects/{P}/datasets/raw")
    assert pol.allows(SA, "bigquery.tables.updateData", f"projects/{P}/datasets/raw/tables/jobs")
    assert not pol.allows(SA, "bigquery.tables.updateData", f"projects/{P}/datasets/raw2/tables/j")
    assert not pol.allows(SA, "bigquery.tables.create", f"projects/{P}/datasets/dim")
    # dataEditor holds datasets.create, but a dataset-level grant cannot create datasets
    assert not pol.allows(SA, "bigquery.datasets.create", f"projects/{P}")
    assert not pol.allows(OTHER, "bigquery.tables.get", f"projects/{P}/datasets/raw/tables/jobs")


def test_bucket_grant_covers_its_objects() -> None:
    pol = policy(Grant(SA, "roles/storage.objectUser", f"projects/{P}/buckets/landing"))
    obj = f"projects/{P}/buckets/landing/objects/landing/jobs/page-00001.json.gz"
    assert pol.allows(SA, "storage.objects.create", obj)
    assert pol.allows(SA, "storage.objects.list", f"projects/{P}/buckets/landing")
    assert not pol.allows(SA, "storage.objects.get", f"projects/{P}/buckets/landing2/objects/x")
    assert not pol.allows(SA, "storage.buckets.get", f"projects/{P}/buckets/landing")


def test_project_grant_covers_everything_in_the_project() -> None:
    pol = policy(Grant(SA, "roles/bigquery.dataViewer", f"projects/{P}"))
    assert pol.allows(SA, "bigquery.tables.getData", f"projects/{P}/datasets/any/tables/t")
    assert pol.allows(SA, "bigquery.datasets.get", f"projects/{P}/datasets/any")
    assert not pol.allows(SA, "bigquery.tables.getData", "projects/elsewhere/datasets/d/tables/t")
    assert not pol.allows(SA, "bigquery.tables.getData", f"projects/{P}x/datasets/d/tables/t")
    pubsub = policy(Grant(SA, "roles/pubsub.subscriber", f"projects/{P}"))
    assert pubsub.allows(SA, "pubsub.subscriptions.consume", f"projects/{P}/subscriptions/s")
    assert pubsub.allows(SA, "pubsub.topics.attachSubscription", f"projects/{P}/topics/t")


def test_allusers_grants_apply_to_every_member() -> None:
    pol = policy(Grant("allUsers", "roles/storage.objectViewer", f"projects/{P}/buckets/pub"))
    assert pol.allows(SA, "storage.objects.get", f"projects/{P}/buckets/pub/objects/x")


def test_missing_lists_failed_checks_in_order_without_repeats() -> None:
    pol = policy(Grant(SA, "roles/bigquery.jobUser", f"projects/{P}"))
    checks = [
        ("bigquery.jobs.create", f"projects/{P}"),
        ("bigquery.tables.getData", f"projects/{P}/datasets/d/tables/t"),
        ("bigquery.tables.getData", f"projects/{P}/datasets/d/tables/t"),
        ("bigquery.tables.updateData", f"projects/{P}/datasets/d/tables/u"),
    ]
    assert pol.missing(SA, checks) == checks[1:2] + checks[3:]
    assert pol.missing(SA, checks[:1]) == []


def test_unknown_role_raises_at_construction() -> None:
    with pytest.raises(PolicyError, match=r"roles/bigquery\.admin.*roles\.json"):
        policy(Grant(SA, "roles/bigquery.admin", f"projects/{P}"))


def test_json_round_trip_keeps_only_the_roles_in_use() -> None:
    pol = policy(
        Grant(SA, "roles/storage.objectUser", f"projects/{P}/buckets/landing"),
        Grant(OTHER, "roles/pubsub.publisher", f"projects/{P}/topics/st-plan"),
    )
    data = json.loads(json.dumps(pol.to_json()))
    assert set(data["roles"]) == {"roles/storage.objectUser", "roles/pubsub.publisher"}
    back = Policy.from_json(data)
    assert back.grants == pol.grants
    assert back.allows(OTHER, "pubsub.topics.publish", f"projects/{P}/topics/st-plan")
    assert Policy.from_json(json.dumps(data)).grants == pol.grants
    assert pol.bucket_project("landing") == P and pol.bucket_project("nope") is None


def test_grants_from_the_terraform_topology_are_accepted() -> None:
    from stkpi_tools.terraform.grants import Grant as TopologyGrant

    pol = Policy([TopologyGrant(SA, "roles/bigquery.jobUser", f"projects/{P}")], load_roles())
    assert pol.allows(SA, "bigquery.jobs.create", f"projects/{P}")


def test_terraforms_evaluated_grants_build_a_policy() -> None:
    from stkpi_tools.localstack.settings_env import local_topology

    grants = local_topology("stkpi-local").grants
    pol = Policy(grants, load_roles())  # raises if terraform grants a role without data
    assert len(pol.grants) == len(set(grants)) and pol.roles


def test_the_local_gate_lets_each_function_reach_an_added_tenants_datasets_as_its_own() -> None:
    """terraform/'s grants on each var.tenants entry's datasets, as the local stack's gate
    judges them (it takes them from terraform/): a function may do in tenant 2000's
    datasets exactly what it may do in the deployment's, and nothing in a tenant's
    datasets that terraform/ does not list."""
    from stkpi_tools.terraform.topology import load_topology

    tenants = {"2000": {"display_name": "Acme North"}}
    topo = load_topology(TERRAFORM, {"project_id": P, "tenants": tenants})
    assert topo.datasets["raw"] == "st_raw"  # the deployment's layers, unchanged
    assert topo.tenant_datasets == {
        "2000": {layer: f"st_t2000_{layer}" for layer in ("dim", "mart", "ops", "raw", "stage")}
    }
    pol = Policy(topo.grants, load_roles())
    sa = {name: fn.service_account for name, fn in topo.functions.items()}
    checks = [
        ("bigquery.tables.updateData", "raw", "jobs"),  # MERGE into raw
        ("bigquery.tables.create", "stage", None),  # staging tables
        ("bigquery.tables.updateData", "ops", "window_events"),  # events
        ("bigquery.tables.getData", "raw", "jobs"),  # rebuild reads raw
        ("bigquery.tables.create", "mart", None),  # rebuild writes marts
    ]
    for fn in sa:
        for permission, layer, table in checks:

            def where(dataset: str, table: str | None = table) -> str:
                found = f"projects/{P}/datasets/{dataset}"
                return f"{found}/tables/{table}" if table else found

            own = pol.allows(sa[fn], permission, where(f"st_{layer}"))
            added = pol.allows(sa[fn], permission, where(f"st_t2000_{layer}"))
            assert own == added, (fn, permission, layer)
            # a tenant nobody added to terraform/: no grant at all
            assert not pol.allows(sa[fn], permission, where(f"st_t3000_{layer}")), fn
    # every function resolves its messages' tenants: it may read the deployment's registry
    registry = f"projects/{P}/datasets/st_ops/tables/tenants"
    assert all(pol.allows(sa[fn], "bigquery.tables.getData", registry) for fn in sa)
    # the deployment without tenants has no tenant dataset
    assert load_topology(TERRAFORM, {"project_id": P}).tenant_datasets == {}
