"""stkpi_tools.terraform.topology: the deployment's shape evaluated from terraform/.

The assertions are about structure and relationships (every function has a push
subscription on its topic, every dead-letter topic has a hold, env names resolve to
topics, ...), not about how many topics or grants there are today.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import hcl2
import pytest

from stkpi_tools.terraform.grants import Grant
from stkpi_tools.terraform.hcl import MissingVariable
from stkpi_tools.terraform.resource_names import TopologyError
from stkpi_tools.terraform.topology import Topology, load_topology, terraform_dir

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "terraform"


@pytest.fixture(scope="module")
def topo() -> Topology:
    return load_topology(TF, {"project_id": "p"})


def _defaults() -> dict[str, Any]:
    """variables.tf defaults read with plain python-hcl2 (independent of the evaluator)."""
    out: dict[str, Any] = {}
    with (TF / "variables.tf").open() as f:
        for item in hcl2.load(f)["variable"]:
            for label, body in item.items():
                if "default" in body:
                    out[label.strip('"')] = body["default"]
    return out


def test_default_dir_is_the_repos_terraform() -> None:
    assert terraform_dir().resolve() == TF.resolve()


def test_every_function_has_its_push_subscription_with_a_dead_letter_policy(
    topo: Topology,
) -> None:
    assert topo.project == "p"
    assert topo.functions
    for key, fn in topo.functions.items():
        assert fn.key == key
        sub = topo.subscriptions[fn.subscription]
        assert sub.push and sub.function == key
        assert sub.topic == fn.topic and fn.topic in topo.topics
        # the dead-letter policy names the topic's dead-letter topic, a topic of its own
        dead = topo.dead_letter_topic(fn.topic)
        assert sub.dead_letter_topic == dead == topo.topics[fn.topic]
        assert dead != fn.topic and topo.topics[dead] == ""
        # ...whose dead letters a pull subscription keeps
        hold = topo.subscriptions[topo.dead_letter_subscription(fn.topic)]
        assert hold.topic == dead and not hold.push and hold.function is None
        # Pub/Sub waits for the HTTP answer at least as long as the function may run
        assert sub.ack_deadline_seconds >= min(fn.timeout_seconds, 600)
    # one push subscription per function, and every push subscription drives a function
    pushes = [s for s in topo.subscriptions.values() if s.push]
    assert sorted(s.function or "" for s in pushes) == sorted(topo.functions)


def test_retry_policy_and_delivery_attempts_as_declared(topo: Topology) -> None:
    d = _defaults()
    for fn in topo.functions.values():
        sub = topo.subscriptions[fn.subscription]
        # pubsub.tf: minimum_backoff = "${var.retry_minimum_backoff_seconds}s", ...
        assert sub.min_backoff_seconds == d["retry_minimum_backoff_seconds"]
        assert sub.max_backoff_seconds == d["retry_maximum_backoff_seconds"]
        assert sub.max_delivery_attempts == d["max_delivery_attempts"]
    fast = load_topology(
        TF,
        {
            "project_id": "p",
            "retry_minimum_backoff_seconds": 1,
            "retry_maximum_backoff_seconds": 10,
            "max_delivery_attempts": 7,
        },
    )
    for fn in fast.functions.values():
        sub = fast.subscriptions[fn.subscription]
        assert (sub.min_backoff_seconds, sub.max_backoff_seconds) == (1.0, 10.0)
        assert sub.max_delivery_attempts == 7


def test_fetch_window_capacity_follows_the_rate_limit_budget(topo: Topology) -> None:
    d = _defaults()
    # main.tf: max(1, floor(tenant_rate_limit_per_second * rate_limit_safety_factor /
    # fetch_rate_per_instance)); with today's defaults 60 * 0.5 / 5 = 6.0 -> 6.
    expected = max(
        1,
        math.floor(
            d["tenant_rate_limit_per_second"]
            * d["rate_limit_safety_factor"]
            / d["fetch_rate_per_instance"]
        ),
    )
    fetch = topo.functions["fetch_window"]
    assert fetch.max_instances == expected
    assert fetch.env["ST_RATE_LIMIT_PER_SECOND"] == str(d["fetch_rate_per_instance"])
    # the instances' token buckets together stay within the budget (an instance's
    # concurrent deliveries share its one bucket: the client is built once per process)
    budget = d["tenant_rate_limit_per_second"] * d["rate_limit_safety_factor"]
    assert fetch.max_instances * d["fetch_rate_per_instance"] <= max(
        budget, d["fetch_rate_per_instance"]
    )


def test_each_added_tenant_brings_its_own_share_of_fetch_instances(topo: Topology) -> None:
    # ServiceTitan's limit is per (app key, tenant): with two tenants added, fetch_window
    # has three shares of instances, and a run's lanes (one instance each, with that
    # tenant's own token bucket) stay one tenant's share, so each tenant stays within its
    # limit while all three fetch at full speed; load_batch's capacity holds all their lanes
    tenants = {"2000": {"display_name": "A"}, "31": {"display_name": "B"}}
    three = load_topology(TF, {"project_id": "p", "tenants": tenants})
    one = topo.functions["fetch_window"]
    fetch, load = three.functions["fetch_window"], three.functions["load_batch"]
    assert fetch.max_instances == 3 * one.max_instances
    lanes = int(fetch.env["WINDOW_LANES"])
    assert (
        lanes == int(one.env["WINDOW_LANES"]) or 3 * lanes <= load.max_instances * load.concurrency
    )
    assert lanes * float(fetch.env["ST_RATE_LIMIT_PER_SECOND"]) <= max(
        _defaults()["tenant_rate_limit_per_second"] * _defaults()["rate_limit_safety_factor"],
        float(fetch.env["ST_RATE_LIMIT_PER_SECOND"]),
    )
    assert 3 * lanes <= load.max_instances * load.concurrency


def test_function_fields(topo: Topology) -> None:
    for fn in topo.functions.values():
        assert fn.name and fn.memory
        assert fn.max_instances >= 1 and fn.concurrency >= 1 and fn.timeout_seconds >= 1
        assert fn.service_account.startswith("serviceAccount:")
        assert fn.service_account.endswith("@p.iam.gserviceaccount.com")
        assert all(isinstance(v, str) for v in fn.env.values())
        # a secret is never also a plain variable: only its name, in ST_SECRETS
        assert not set(fn.secret_env) & set(fn.env)
        if fn.secret_env:
            names = json.loads(fn.env["ST_SECRETS"])
            assert set(names) == set(fn.secret_env)
            assert all(n.startswith("projects/p/secrets/") for n in names.values())
    # only the functions that call ServiceTitan read its credentials: fetch_window, and
    # rebuild_dims for the reconciliation with the Reporting API
    readers = {k for k, fn in topo.functions.items() if "ST_CLIENT_SECRET" in fn.secret_env}
    assert readers == {"fetch_window", "rebuild_dims"}
    assert topo.functions["plan_windows"].secret_env == ()


def test_env_topic_names_exist(topo: Topology) -> None:
    for fn in topo.functions.values():
        names = {k: v for k, v in fn.env.items() if k.startswith("TOPIC_")}
        assert names, fn.key
        for var, topic in names.items():
            assert topic in topo.topics, (fn.key, var, topic)
        # the functions derive dead-letter names with the suffix terraform uses
        suffix = fn.env.get("DEAD_LETTER_TOPIC_SUFFIX")
        if suffix is not None:
            for topic in names.values():
                assert topo.dead_letter_topic(topic) == topic + suffix
        assert fn.env["LANDING_BUCKET"] == topo.bucket
        assert fn.env["GCP_PROJECT"] == topo.project


def test_datasets_and_bucket(topo: Topology) -> None:
    # bq_dataset_prefix "" and name_prefix "" -> "st"
    assert _defaults()["bq_dataset_prefix"].strip('"') == ""
    assert topo.datasets["raw"] == "st_raw"
    assert topo.datasets["ops"] == "st_ops"
    assert topo.bucket == "p-st-landing"  # landing_bucket_name "" -> "<project>-st-landing"
    # a second deployment's datasets and bucket take its name prefix
    second = load_topology(TF, {"project_id": "p", "name_prefix": "b-"})
    assert second.datasets["raw"] == "b_st_raw"
    assert second.bucket == "p-b-st-landing"
    named = load_topology(TF, {"project_id": "p", "landing_bucket_name": "my-landing"})
    assert named.bucket == "my-landing"


def test_grants(topo: Topology) -> None:
    fetch = topo.functions["fetch_window"].service_account
    landing = f"projects/p/buckets/{topo.bucket}"
    assert Grant(fetch, "roles/storage.objectUser", landing) in topo.grants
    # each function may read its own secrets and publish to its topic's dead-letter topic
    for fn in topo.functions.values():
        for name in fn.secret_env:
            assert any(
                g.member == fn.service_account
                and g.role == "roles/secretmanager.secretAccessor"
                and g.resource.startswith("projects/p/secrets/")
                for g in topo.grants
            ), name
        dead = f"projects/p/topics/{topo.dead_letter_topic(fn.topic)}"
        assert Grant(fn.service_account, "roles/pubsub.publisher", dead) in topo.grants
    # every resource is canonical and names something the topology knows
    known = {
        "topics": set(topo.topics),
        "subscriptions": set(topo.subscriptions),
        "datasets": set(topo.datasets.values()),
        "services": {f.name for f in topo.functions.values()},
    }
    for g in topo.grants:
        m = re.fullmatch(r"projects/p(?:/([A-Za-z]+)/([^/]+))?", g.resource)
        assert m, g
        kind, name = m.groups()
        if kind in known:
            assert name in known[kind], g
        assert g.role.startswith("roles/") and ":" in g.member
    assert topo.members() >= {f.service_account for f in topo.functions.values()}
    assert len(set(topo.grants)) == len(topo.grants)


def test_operator_members_are_kept_as_written() -> None:
    t = load_topology(TF, {"project_id": "p", "operator_members": ["user:ops@example.com"]})
    ops = [g for g in t.grants if g.member == "user:ops@example.com"]
    assert ops
    assert "user:ops@example.com" in t.members()
    assert all(g.resource.startswith("projects/p") for g in ops)


def test_project_id_is_required() -> None:
    with pytest.raises(MissingVariable, match="project_id"):
        load_topology(TF, {})


def test_a_removed_grant_disappears(tmp_path: Path, topo: Topology) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TF, copy, ignore=shutil.ignore_patterns(".terraform", ".build"))
    iam = copy / "iam.tf"
    # landing_roles = { ... fetch_window = "roles/storage.objectUser" ... }: drop that entry
    text, n = re.subn(
        r'^\s*fetch_window\s*=\s*"roles/storage\.objectUser".*\n',
        "",
        iam.read_text(),
        flags=re.M,
    )
    assert n == 1, "iam.tf no longer grants fetch_window objectUser in one line; update the test"
    iam.write_text(text)
    edited = load_topology(copy, {"project_id": "p"})
    fetch = topo.functions["fetch_window"].service_account
    plan = topo.functions["plan_windows"].service_account
    landing = f"projects/p/buckets/{topo.bucket}"
    assert Grant(fetch, "roles/storage.objectUser", landing) in topo.grants
    assert Grant(fetch, "roles/storage.objectUser", landing) not in edited.grants
    assert Grant(plan, "roles/storage.objectUser", landing) in edited.grants
    assert set(edited.grants) == set(topo.grants) - {
        Grant(fetch, "roles/storage.objectUser", landing)
    }


# ---- forms terraform/ does not use today ----------------------------------------------------

SMALL_TF = """
variable "project_id" {
  type = string
}

resource "google_pubsub_topic" "t" {
  name = "t"
}

resource "google_pubsub_topic" "other" {
  name    = "o"
  project = "elsewhere"
}

resource "google_pubsub_subscription" "pull" {
  name  = "t-pull"
  topic = google_pubsub_topic.t.name
}

resource "google_cloudfunctions2_function" "f" {
  name = "f"
  build_config {
    entry_point = "handle"
  }
  service_config {
    available_memory = "256M"
  }
  event_trigger {
    pubsub_topic = google_pubsub_topic.t.id
  }
}

resource "google_storage_bucket" "landing" {
  name = "b"
}

resource "google_pubsub_topic_iam_member" "by_id" {
  topic  = google_pubsub_topic.other.id
  role   = "roles/pubsub.viewer"
  member = "group:g@example.com"
}

resource "google_pubsub_topic_iam_binding" "by_name" {
  topic   = google_pubsub_topic.t.name
  role    = "roles/pubsub.publisher"
  members = ["user:a@example.com", "user:b@example.com"]
}

resource "google_service_account_iam_member" "by_email" {
  service_account_id = "projects/-/serviceAccounts/x@p.iam.gserviceaccount.com"
  role               = "roles/iam.serviceAccountUser"
  member             = "user:a@example.com"
}

resource "google_storage_bucket_iam_member" "b" {
  bucket = "b/${google_storage_bucket.landing.name}"
  role   = "roles/storage.objectViewer"
  member = "user:a@example.com"
}
"""


def test_other_forms(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(SMALL_TF)
    t = load_topology(tmp_path, {"project_id": "p"})
    assert t.topics == {"o": "", "t": ""}
    sub = t.subscriptions["t-pull"]
    assert not sub.push and sub.function is None
    assert sub.ack_deadline_seconds == 10  # Pub/Sub's default
    assert sub.min_backoff_seconds is None and sub.dead_letter_topic is None
    f = t.functions["handle"]  # a single function is keyed by its entry point
    assert (f.topic, f.subscription) == ("t", "")
    assert (f.max_instances, f.concurrency, f.timeout_seconds) == (100, 1, 60)  # defaults
    assert f.service_account == (
        "serviceAccount:000000000000-compute@developer.gserviceaccount.com"
    )
    assert t.bucket == "b"
    assert set(t.grants) == {
        Grant("group:g@example.com", "roles/pubsub.viewer", "projects/elsewhere/topics/o"),
        Grant("user:a@example.com", "roles/pubsub.publisher", "projects/p/topics/t"),
        Grant("user:b@example.com", "roles/pubsub.publisher", "projects/p/topics/t"),
        Grant(
            "user:a@example.com",
            "roles/iam.serviceAccountUser",
            "projects/p/serviceAccounts/x@p.iam.gserviceaccount.com",
        ),
        Grant("user:a@example.com", "roles/storage.objectViewer", "projects/p/buckets/b"),
    }
    with pytest.raises(KeyError, match="no dead-letter topic"):
        t.dead_letter_topic("t")


def test_unmodelled_iam_types_are_refused(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        SMALL_TF
        + """
resource "google_kms_crypto_key_iam_member" "k" {
  crypto_key_id = "k"
  role          = "roles/x"
  member        = "user:a@example.com"
}
"""
    )
    with pytest.raises(TopologyError, match="google_kms_crypto_key are not modelled"):
        load_topology(tmp_path, {"project_id": "p"})
