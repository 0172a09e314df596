"""Static tests of terraform/: the google provider cannot be downloaded here, so each deploy
rule is asserted over the parsed HCL (python-hcl2) plus `terraform fmt -check`.

python-hcl2 v8 keeps string quotes (``'"st-plan"'``) and wraps expressions in ``${...}``;
``_load`` asks it to strip quotes and ``_s`` unwraps, so assertions compare plain text.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zoneinfo
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

from stkpi.config import Settings
from stkpi.registry import ENTITIES

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "terraform"
FUNCTIONS = {"plan_windows", "fetch_window", "load_batch", "rebuild_dims"}
PUBLIC = ("allusers", "allauthenticatedusers")
SECRETISH = re.compile(r"secret|password|passwd|token|client_id|app_key|api_key|credential", re.I)


# ---- parsing helpers ------------------------------------------------------------------------


def _unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        return {_unquote(k): _norm(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


@cache
def _load(path: Path) -> dict[str, Any]:
    opts = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False)
    return _norm(hcl2.loads(path.read_text(), serialization_options=opts))


def _s(value: Any) -> str:
    """Plain text of an attribute: ``${var.x}`` -> ``var.x``, ``"a"`` -> ``a``."""
    text = str(value).strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return _unquote(text)


@cache
def _blocks(kind: str) -> dict[str, Any]:
    """All top-level blocks of one kind across terraform/*.tf (resources keyed type.name)."""
    out: dict[str, Any] = {}
    for tf in sorted(TF.glob("*.tf")):
        for block in _load(tf).get(kind, []):
            for label, body in block.items():
                if kind in ("resource", "data"):
                    for name, res in body.items():
                        out[f"{label}.{name}"] = res
                else:
                    out[label] = body
    return out


def _resources(rtype: str) -> dict[str, Any]:
    return {
        k.split(".", 1)[1]: v for k, v in _blocks("resource").items() if k.startswith(rtype + ".")
    }


def _locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for tf in sorted(TF.glob("*.tf")):
        for block in _load(tf).get("locals", []):
            merged.update(block)
    return merged


def _one(block: Any) -> dict[str, Any]:
    """A nested block: hcl2 gives a list of one dict."""
    assert isinstance(block, list) and len(block) == 1, block
    return block[0]


def _tf_text() -> str:
    return "\n".join(p.read_text() for p in sorted(TF.glob("*.tf")))


def _specs(layer: str) -> dict[str, dict[str, Any]]:
    return {
        p.stem: json.loads(p.read_text()) for p in sorted((TF / "schemas" / layer).glob("*.json"))
    }


# ---- formatting and generation -----------------------------------------------------------


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not installed")
def test_terraform_fmt_is_clean() -> None:
    proc = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(TF)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_table_schemas_are_generated_from_current_ddl() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_terraform_schemas.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_tf_file_parses() -> None:
    files = sorted(TF.glob("*.tf"))
    assert {f.name for f in files} >= {"main.tf", "variables.tf", "outputs.tf", "versions.tf"}
    for f in files:
        _load(f)


# ---- provider and state -------------------------------------------------------------------


def test_provider_version_is_pinned() -> None:
    terraform = _one(_load(TF / "versions.tf")["terraform"])
    providers = _one(terraform["required_providers"])
    google = providers["google"]
    assert google["source"] == "hashicorp/google"
    assert re.fullmatch(r"~>\s*6\.\d+(\.\d+)?", google["version"]), google["version"]
    for name, spec in providers.items():
        assert spec.get("version"), f"provider {name} has no version constraint"
    assert terraform.get("required_version")


def test_remote_state_example_uses_gcs() -> None:
    example = _load(TF / "backend.tf.example")
    backend = _one(_one(example["terraform"])["backend"])
    assert "gcs" in backend
    assert not (TF / "backend.tf").exists() or "backend.tf" in (TF / ".gitignore").read_text()


# ---- Pub/Sub ------------------------------------------------------------------------------


def test_topics_are_the_four_pipeline_topics() -> None:
    from stkpi_tools.terraform.hcl import Module

    topics = Module(TF, {"project_id": "p"}).local("topics")
    assert set(topics.values()) == {"st-plan", "st-windows", "st-loads", "st-rebuild"}
    prefixed = Module(TF, {"project_id": "p", "name_prefix": "x-"}).local("topics")
    assert set(prefixed.values()) == {"x-st-plan", "x-st-windows", "x-st-loads", "x-st-rebuild"}
    assert "for_each" in _resources("google_pubsub_topic")["main"]
    assert "local.topics" in _s(_resources("google_pubsub_topic")["main"]["for_each"])


def test_every_function_subscription_has_dead_letter_and_retry_policy() -> None:
    subs = _resources("google_pubsub_subscription")
    push = subs["push"]
    assert _s(push["for_each"]) == "local.functions"
    dlp = _one(push["dead_letter_policy"])
    assert "google_pubsub_topic.dead_letter" in _s(dlp["dead_letter_topic"])
    assert _s(dlp["max_delivery_attempts"]) == "var.max_delivery_attempts"
    retry = _one(push["retry_policy"])
    assert retry["minimum_backoff"] and retry["maximum_backoff"]
    oidc = _one(_one(push["push_config"])["oidc_token"])
    assert "google_service_account.push" in _s(oidc["service_account_email"])
    # every subscription that feeds a function dead-letters; the only others are the
    # dead-letter holding subscriptions themselves
    for name, sub in subs.items():
        if name != "push":
            assert "google_pubsub_topic.dead_letter" in _s(sub["topic"]), name
    # and no function has an event_trigger (it would be a second, dead-letter-less path)
    for name, fn in _resources("google_cloudfunctions2_function").items():
        assert "event_trigger" not in fn, name


def test_max_delivery_attempts_is_bounded() -> None:
    var = _blocks("variable")["max_delivery_attempts"]
    cond = _s(_one(var["validation"])["condition"])
    assert ">= 5" in cond and "<= 100" in cond
    assert 5 <= var["default"] <= 100


def test_pubsub_service_agent_can_dead_letter() -> None:
    agent = _s(_locals()["pubsub_service_agent"])
    assert "gcp-sa-pubsub.iam.gserviceaccount.com" in agent
    pub = _resources("google_pubsub_topic_iam_member")["dead_letter_publisher"]
    assert _s(pub["role"]) == "roles/pubsub.publisher"
    assert "google_pubsub_topic.dead_letter" in _s(pub["topic"])
    assert _s(pub["member"]) == "local.pubsub_service_agent"
    sub = _resources("google_pubsub_subscription_iam_member")["dead_letter_subscriber"]
    assert _s(sub["role"]) == "roles/pubsub.subscriber"
    assert "google_pubsub_subscription.push" in _s(sub["subscription"])
    assert _s(sub["member"]) == "local.pubsub_service_agent"


# ---- functions ----------------------------------------------------------------------------


def test_four_functions_each_with_max_instances_and_sizing() -> None:
    functions = _locals()["functions"]
    assert set(functions) == FUNCTIONS
    for name, spec in functions.items():
        for key in ("name", "topic", "memory", "timeout", "max_instances"):
            assert key in spec, f"{name} lacks {key}"
    fn = _resources("google_cloudfunctions2_function")["fn"]
    svc = _one(fn["service_config"])
    assert _s(svc["max_instance_count"]) == "each.value.max_instances"
    assert _s(svc["ingress_settings"]) == "ALLOW_INTERNAL_ONLY"
    assert _s(_one(fn["build_config"])["entry_point"]) == "each.key"
    # rebuild gets the most memory; fetch the longest timeout with its budget below it
    mem = {n: s["memory"] for n, s in functions.items()}
    as_mib = {n: int(m[:-2]) * (1024 if m.endswith("Gi") else 1) for n, m in mem.items()}
    assert as_mib["rebuild_dims"] == max(as_mib.values())
    assert _s(functions["fetch_window"]["timeout"]) == "var.fetch_timeout_seconds"
    variables = _blocks("variable")
    assert variables["fetch_timeout_seconds"]["default"] >= 500
    budget = variables["fetch_time_budget_seconds"]
    assert budget["default"] < variables["fetch_timeout_seconds"]["default"]
    condition = _s(_one(budget["validation"])["condition"])
    assert "var.fetch_timeout_seconds" in condition
    # A request still in flight at the budget ends (retries included) within one request
    # timeout after it (stkpi.fetch, requests_end): before the function's timeout.
    request = Settings.model_fields["st_request_timeout_seconds"].default
    assert budget["default"] + request < variables["fetch_timeout_seconds"]["default"]
    assert "var.fetch_timeout_seconds - 120" in condition and request < 120


def test_fetch_max_instances_derives_from_tenant_rate_limit() -> None:
    loc = _locals()
    expr = _s(loc["tenant_fetch_instances"]).replace(" ", "")
    assert (
        "floor(var.tenant_rate_limit_per_second*var.rate_limit_safety_factor/var.fetch_rate_per_instance)"
        in expr
    )
    # one tenant's share for each tenant served: the default one and each var.tenants entry
    assert _s(loc["fetch_max_instances"]).replace(" ", "") == (
        "local.tenant_fetch_instances*local.tenant_count"
    )
    assert _s(loc["tenant_count"]).replace(" ", "") == "1+length(var.tenants)"
    assert _s(loc["functions"]["fetch_window"]["max_instances"]) == "local.fetch_max_instances"
    env = _s(loc["function_env"])
    assert "ST_RATE_LIMIT_PER_SECOND" in env and "var.fetch_rate_per_instance" in env
    # the defaults stay under the limit: max_instances * per-instance rate <= limit * factor
    v = _blocks("variable")
    limit, factor, per = (
        v[n]["default"]
        for n in (
            "tenant_rate_limit_per_second",
            "rate_limit_safety_factor",
            "fetch_rate_per_instance",
        )
    )
    assert max(1, int(limit * factor // per)) * per <= limit * factor


def test_every_function_has_its_own_service_account() -> None:
    fn = _resources("google_cloudfunctions2_function")["fn"]
    svc = _one(fn["service_config"])
    assert _s(svc["service_account_email"]) == "google_service_account.fn[each.key].email"
    sa = _resources("google_service_account")["fn"]
    assert _s(sa["for_each"]) == "local.functions"
    assert _s(sa["account_id"]) == "each.value.name"
    names = [s["name"].replace("${local.prefix}", "") for s in _locals()["functions"].values()]
    assert len(set(names)) == len(names)
    for n in names:
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", n), n
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", n + "-push"), n


def test_sources_are_content_addressed_and_include_library_and_sql() -> None:
    obj = _resources("google_storage_bucket_object")["function_source"]
    assert "output_sha256" in _s(obj["name"]) or "output_md5" in _s(obj["name"])
    loc = _locals()
    assert "shared/stkpi" in _s(loc["library_files"])
    assert "/sql" in _s(loc["sql_files"])
    assert "functions/${fn}" in _s(loc["function_files"])
    archive = _blocks("data")["archive_file.function"]
    text = json.dumps(archive)
    for part in ("local.library_files", "local.sql_files", "local.function_files"):
        assert part in text


def test_least_privilege_roles() -> None:
    loc = _locals()
    assert loc["publishes"] == {
        "plan_windows": ["windows"],
        "fetch_window": ["loads", "windows"],
        "load_batch": ["rebuild", "windows"],  # the run's rebuild; the lane hand-off
        "rebuild_dims": [],
    }
    ds = loc["dataset_roles"]
    assert ds["rebuild_dims"]["raw"] == "roles/bigquery.dataViewer"
    for layer in ("dim", "mart", "ops"):
        assert ds["rebuild_dims"][layer] == "roles/bigquery.dataEditor"
    assert set(ds["load_batch"]) == {"raw", "stage", "ops"}
    assert "raw" not in ds["fetch_window"] and "raw" not in ds["plan_windows"]
    # every step writes the landing bucket: plan (run plan), fetch (pages), load (markers,
    # claim, hand-offs), rebuild (lease, rebuild.done, report); the IAM gate proves each
    # need end to end (tests/integration), this only pins the set
    assert set(loc["landing_roles"]) == {
        "plan_windows",
        "fetch_window",
        "load_batch",
        "rebuild_dims",
    }
    assert set(loc["runs_bq_jobs"]) == {"plan_windows", "load_batch", "rebuild_dims"}
    # the only project-level grants: bigquery.jobUser to functions, the build role to builds
    for name, grant in _resources("google_project_iam_member").items():
        assert _s(grant["role"]) in {"roles/bigquery.jobUser", "roles/cloudbuild.builds.builder"}, (
            name
        )
    # secrets readable only by the functions that call ServiceTitan: fetch_window pages the
    # API, rebuild_dims reconciles with its Reporting API (stkpi.reconcile)
    secret_grants = _resources("google_secret_manager_secret_iam_member")
    assert set(secret_grants) == {"reads_st", "reads_tenant"}
    assert "local.tenant_secret_grants" in _s(secret_grants["reads_tenant"]["for_each"])
    assert "local.st_secret_grants" in _s(secret_grants["reads_st"]["for_each"])
    readers = {fn for fn, spec in loc["functions"].items() if spec["reads_st_api"] is True}
    assert readers == {"fetch_window", "rebuild_dims"}
    # a function is invoked by its own push account, nobody else
    inv = _resources("google_cloud_run_v2_service_iam_member")
    assert set(inv) == {"push_invoker"}
    assert _s(inv["push_invoker"]["role"]) == "roles/run.invoker"
    assert "google_service_account.push[each.key]" in _s(inv["push_invoker"]["member"])
    for name in _resources("google_cloudfunctions2_function_iam_member"):
        pytest.fail(f"unexpected function invoker binding {name}")


def test_no_public_principals_anywhere() -> None:
    # over the parsed HCL (comments dropped), so a comment may name what is forbidden
    text = json.dumps([_load(p) for p in sorted(TF.glob("*.tf"))]).lower()
    for principal in PUBLIC:
        assert principal not in text
    for name, fn in _resources("google_cloudfunctions2_function").items():
        assert _s(_one(fn["service_config"])["ingress_settings"]) == "ALLOW_INTERNAL_ONLY", name
    # no IAM *policy*/*binding* resources that could replace or widen whole policies
    for key in _blocks("resource"):
        rtype = key.split(".")[0]
        assert not rtype.endswith(("_iam_policy", "_iam_binding")), key


# ---- secrets ------------------------------------------------------------------------------


def test_st_credentials_only_via_secret_manager() -> None:
    secrets = _resources("google_secret_manager_secret")
    assert _s(secrets["st"]["for_each"]) == "local.st_secret_env"
    env = _locals()["st_secret_env"]
    assert set(env) == {"ST_CLIENT_ID", "ST_CLIENT_SECRET", "ST_APP_KEY", "ST_TENANT_ID"}
    # no secret version (its value would be in state), anywhere
    assert not _resources("google_secret_manager_secret_version")
    assert "secret_data" not in _tf_text()
    # the functions that call ServiceTitan get the secrets' names (ST_SECRETS), read at call
    # time; none mounts a version at deploy time (tests/terraform/test_deploy_graph.py)
    assert "google_secret_manager_secret.st" in _s(_locals()["st_secrets"])
    assert "ST_SECRETS = local.st_secrets" in _s(_locals()["function_env"])


def test_no_secret_like_variable_has_a_default() -> None:
    for name, var in _blocks("variable").items():
        if SECRETISH.search(name):
            assert "default" not in var or var["default"] in (None, ""), name
            assert var.get("sensitive") is True, f"{name} must be sensitive"


def test_outputs_expose_no_secret_value() -> None:
    for name, out in _blocks("output").items():
        value = _s(out["value"])
        assert "secret_data" not in value and "secret_version" not in value, name
        assert "var." not in value or not SECRETISH.search(value.split("var.", 1)[1]), name
        assert out.get("sensitive") is not True, f"{name}: outputs are non-sensitive by design"


# ---- scheduler ----------------------------------------------------------------------------


def test_schedules_run_in_phoenix_and_publish_v1_messages() -> None:
    loc = _locals()
    assert loc["schedule_time_zone"] == "America/Phoenix"
    job = _resources("google_cloud_scheduler_job")["job"]
    assert _s(job["time_zone"]) == "each.value.time_zone"
    # the default tenant's jobs keep the zone and their addresses (added tenants':
    # test_deploy_graph.py)
    default = _s(loc["scheduler_jobs"]).split("[", 1)[0]
    assert "local.schedules" in default and "time_zone = local.schedule_time_zone" in default
    schedules = loc["schedules"]
    assert {s["topic"] for s in schedules.values()} <= set(loc["topics"])
    msgs = {k: s["message"] for k, s in schedules.items()}
    assert msgs["daily-incremental"] == {"v": 1, "run_type": "daily", "entities": []}
    assert msgs["weekly-reference"] == {"v": 1, "run_type": "reference", "entities": []}
    assert msgs["daily-validation"]["v"] == 1
    assert schedules["daily-incremental"]["topic"] == "plan"
    target = _one(job["pubsub_target"])
    assert "base64encode(jsonencode(" in _s(target["data"])


def _tenant_zone_pattern() -> re.Pattern[str]:
    """The pattern var.tenants' validation checks each tenant's time_zone against."""
    for rule in _blocks("variable")["tenants"]["validation"]:
        found = re.search(r'regex\("(.+?)", t\.time_zone\)', _s(rule["condition"]))
        if found:
            return re.compile(found.group(1).replace("\\\\", "\\"))
    raise AssertionError("var.tenants has no time_zone validation")


def test_a_tenants_time_zone_is_validated_as_an_iana_name() -> None:
    # Every canonical Area/Location zone (and UTC) passes, so the validation never refuses
    # a tenant's real zone; a typo's shape, an offset and the legacy aliases do not (Cloud
    # Scheduler's own check of the name is at apply: docs/DEPLOY.md).
    pattern = _tenant_zone_pattern()
    canonical = {z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(
        ("Etc/", "SystemV/", "posix/", "right/"))} | {"UTC"}  # fmt: skip
    assert {z for z in canonical if not pattern.fullmatch(z)} == set()
    for bad in ("", "america/phoenix", "Phoenix", "UTC-7", "-07:00", "EST5EDT", "America/"):
        assert not pattern.fullmatch(bad), bad


def test_weekly_key_scan_publishes_what_stkpi_deletes_publishes() -> None:
    from stkpi.messages import PlanMessage
    from stkpi_tools.runs import deletes_message

    loc = _locals()
    sched = loc["schedules"]["weekly-deletes"]
    assert sched["topic"] == "plan" and _s(sched["schedule"]) == "var.deletes_schedule"
    scheduled = PlanMessage.model_validate(sched["message"])
    assert scheduled == deletes_message([])  # the CLI's message, less its run id
    assert deletes_message([], "r1").model_copy(update={"run_id": None}) == scheduled
    assert _s(loc["common_env"]["DELETE_GUARD_SHARE"]) == "tostring(var.delete_guard_share)"


def test_scheduled_messages_pass_the_message_schemas() -> None:
    from stkpi.messages import PlanMessage, RebuildMessage

    schema = {"plan": PlanMessage, "rebuild": RebuildMessage}
    for sched in _locals()["schedules"].values():
        schema[sched["topic"]].model_validate(sched["message"])


# ---- storage ------------------------------------------------------------------------------


def test_landing_bucket_is_private_uniform_with_lifecycle() -> None:
    for name, bucket in _resources("google_storage_bucket").items():
        assert bucket["uniform_bucket_level_access"] is True, name
        assert bucket["public_access_prevention"] == "enforced", name
        assert _one(bucket["versioning"])["enabled"] is False, name
    landing = _resources("google_storage_bucket")["landing"]
    rules = landing["lifecycle_rule"]
    actions = [_one(r["action"])["type"] for r in rules]
    assert "Delete" in actions
    delete = next(r for r in rules if _one(r["action"])["type"] == "Delete")
    assert _s(_one(delete["condition"])["age"]) == "var.landing_delete_after_days"
    # the colder class is optional (dynamic, off when landing_nearline_after_days = 0)
    cold = _one(landing["dynamic"])["lifecycle_rule"]
    assert _one(_one(cold["content"])["action"])["storage_class"] == "NEARLINE"


# ---- BigQuery -----------------------------------------------------------------------------


def test_datasets_cover_every_layer_and_stage_expires() -> None:
    loc = _locals()
    assert "raw" in _s(loc["datasets"]) and "ops" in _s(loc["datasets"])
    for layer in ("raw", "stage", "dim", "mart", "ops"):
        assert f'"{layer}"' in _s(loc["datasets"]) or layer in _s(loc["datasets"])
    ds = _resources("google_bigquery_dataset")["layer"]
    assert "stage" in _s(ds["default_table_expiration_ms"])
    assert "var.stage_table_expiration_hours" in _s(ds["default_table_expiration_ms"])


def test_raw_tables_match_the_entity_registry() -> None:
    raw = _specs("raw")
    assert set(raw) == {e.name for e in ENTITIES}
    for e in ENTITIES:
        spec = raw[e.name]
        assert spec["partition_field"] == e.partition_field, e.name
        assert spec["clustering"] == list(e.key), e.name
        cols = {c["name"] for c in spec["schema"]}
        assert {c.name for c in e.columns} <= cols, e.name
        if e.partition_field is None:
            assert e.kind == "reference", f"{e.name}: only reference tables may skip partitioning"


def test_every_table_is_partitioned_or_an_exempt_clustered_reference_table() -> None:
    tables = _resources("google_bigquery_table")
    assert set(tables) == {"raw_partitioned", "raw_reference", "ops", "ops_view"}
    for name in ("raw_partitioned", "ops"):
        part = _one(tables[name]["time_partitioning"])
        assert _s(part["field"]) == "each.value.partition_field", name
        assert _s(tables[name]["clustering"]) == "each.value.clustering", name
    ref = tables["raw_reference"]
    assert "time_partitioning" not in ref
    assert _s(ref["clustering"]) == "each.value.clustering"
    assert ref["labels"]["partitioning"] == "exempt-reference"
    assert "view" in tables["ops_view"]
    # the specs the for_each maps select from
    for spec in _specs("raw").values():
        if spec["partition_field"] is None:
            assert spec["clustering"], spec["name"]
    for spec in _specs("ops").values():
        if spec["kind"] == "table":
            assert spec["partition_field"], spec["name"]
            assert spec["clustering"], spec["name"]
            cols = {c["name"]: c["type"] for c in spec["schema"]}
            assert cols[spec["partition_field"]] in ("TIMESTAMP", "DATE"), spec["name"]


def test_ops_tables_exist() -> None:
    ops = _specs("ops")
    tables = {n for n, s in ops.items() if s["kind"] == "table"}
    assert {"sync_state", "validation_results"} <= tables
    assert {"run_events", "window_events"} <= tables
    assert {"runs", "windows"} <= set(ops)


# ---- monitoring ---------------------------------------------------------------------------


def test_alert_policies_cover_freshness_volume_dead_letters_and_errors() -> None:
    policies = _resources("google_monitoring_alert_policy")
    assert set(policies) >= {"freshness", "volume_drop", "dead_letters", "function_error_rate"}
    assert "25 h" in policies["freshness"]["display_name"]
    assert "50%" in policies["volume_drop"]["display_name"]
    dl = _one(_one(policies["dead_letters"]["conditions"])["condition_threshold"])
    assert "num_undelivered_messages" in dl["filter"]
    assert "google_pubsub_subscription.dead_letter" in dl["filter"]
    assert dl["comparison"] == "COMPARISON_GT" and dl["threshold_value"] == 0
    rate = policies["function_error_rate"]["conditions"][0]["condition_threshold"][0]
    assert "denominator_filter" in rate
    metrics = _resources("google_logging_metric")
    assert {"validation_failed", "function_errors"} <= set(metrics)
    for name in ("freshness", "volume_drop"):
        cond = _one(_one(policies[name]["conditions"])["condition_threshold"])
        assert "google_logging_metric.validation_failed" in cond["filter"]


# ---- variables ----------------------------------------------------------------------------


def test_every_variable_has_a_description_and_typed_validation() -> None:
    for name, var in _blocks("variable").items():
        assert var.get("description"), name
        assert var.get("type"), name
        if _s(var["type"]) != "bool":
            assert var.get("validation"), f"{name} has no validation block"


# ---- checkov (optional) -------------------------------------------------------------------


def _checkov() -> str | None:
    import os

    return os.environ.get("CHECKOV_BIN") or shutil.which("checkov")


@pytest.mark.skipif(
    _checkov() is None, reason="checkov not installed (conflicts with the packaging pin)"
)
def test_checkov_finds_nothing() -> None:
    proc = subprocess.run(
        [
            _checkov(),
            "-d",
            str(TF),
            "--framework",
            "terraform",
            "--quiet",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
