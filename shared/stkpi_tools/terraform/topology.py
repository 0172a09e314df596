"""The deployment's shape as data, evaluated from the real resources in terraform/.

Topics, subscriptions (push or pull, ack deadline, retry policy, dead-letter policy),
functions (capacity, timeout, memory, environment, secrets, service account, the push
subscription that drives each) and IAM grants (:mod:`~stkpi_tools.terraform.grants`) come
from evaluating the resource blocks with :mod:`stkpi_tools.terraform.hcl`, not from a second
list of names kept in Python. The local stack wires its emulators from this, and the CLI
finds dead letters with it.

Values Terraform only knows after apply (archive hashes, real service URLs) are either
not needed here or replaced by the evaluator's placeholders; a field that is optional
(a push endpoint that is not a function's) tolerates :class:`~stkpi_tools.terraform.hcl.Unknown`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stkpi import sqlfiles
from stkpi_tools.terraform.grants import Grant, grants
from stkpi_tools.terraform.hcl import (
    PROJECT_NUMBER_PLACEHOLDER,
    Block,
    Instance,
    Module,
    Unknown,
    iter_instances,
    to_string,
)
from stkpi_tools.terraform.resource_names import TopologyError, path_name

__all__ = [
    "Function",
    "Subscription",
    "Topology",
    "load_topology",
    "terraform_dir",
]


@dataclass(frozen=True)
class Subscription:
    name: str
    topic: str  # topic NAME (not path)
    push: bool
    ack_deadline_seconds: int
    min_backoff_seconds: float | None  # None: no retry_policy (immediate redelivery)
    max_backoff_seconds: float | None
    dead_letter_topic: str | None  # topic NAME
    max_delivery_attempts: int | None
    function: str | None  # function key it pushes to, if push


@dataclass(frozen=True)
class Function:
    key: str  # plan_windows (folder + entry point)
    name: str  # st-plan-windows (Cloud Run service name)
    topic: str  # topic name it consumes (st-plan)
    max_instances: int
    concurrency: int
    timeout_seconds: int
    memory: str
    env: dict[str, str]  # plain environment_variables, evaluated
    # credentials it reads from Secret Manager: the keys of its ST_SECRETS (read at call
    # time, stkpi.secrets) and of any secret_environment_variables (mounted at start)
    secret_env: tuple[str, ...]
    service_account: str  # member form "serviceAccount:email"
    subscription: str  # name of the push subscription that drives it ("" for event_trigger)


@dataclass(frozen=True)
class Topology:
    project: str
    # every topic name -> its dead-letter topic name, or "" (dead-letter topics included)
    topics: dict[str, str]
    subscriptions: dict[str, Subscription]
    functions: dict[str, Function]
    grants: tuple[Grant, ...]
    bucket: str  # landing bucket name
    datasets: dict[str, str]  # layer -> dataset id
    # each added tenant's (var.tenants): tenant id -> layer -> dataset id
    tenant_datasets: dict[str, dict[str, str]] = field(default_factory=dict)

    def dead_letter_topic(self, topic: str) -> str:
        """The dead-letter topic of ``topic`` (from its subscriptions' dead-letter policy)."""
        if topic not in self.topics:
            raise KeyError(f"no topic {topic!r} in terraform/ (topics: {', '.join(self.topics)})")
        dead = self.topics[topic]
        if not dead:
            raise KeyError(f"topic {topic!r} has no dead-letter topic")
        return dead

    def dead_letter_subscription(self, topic: str) -> str:
        """The pull subscription that holds ``topic``'s dead letters."""
        dead = self.dead_letter_topic(topic)
        holds = sorted(
            s.name for s in self.subscriptions.values() if s.topic == dead and not s.push
        )
        if len(holds) != 1:
            found = ", ".join(holds) or "none"
            raise KeyError(
                f"dead-letter topic {dead!r} needs exactly one pull subscription, found {found}"
            )
        return holds[0]

    def members(self) -> set[str]:
        """Every principal the deployment names: grant members and function identities."""
        return {g.member for g in self.grants} | {
            f.service_account for f in self.functions.values()
        }


def terraform_dir() -> Path:
    """``STKPI_TERRAFORM_DIR`` if set, else the repo's terraform/ (a sibling of sql/)."""
    override = os.environ.get("STKPI_TERRAFORM_DIR")
    if override:
        return Path(override)
    return sqlfiles.sql_dir().parent / "terraform"


def load_topology(
    terraform_dir: Path | None = None, variables: Mapping[str, Any] | None = None
) -> Topology:
    """Evaluate terraform/ (or ``terraform_dir``) with ``variables`` (as ``-var`` would give
    them; ``project_id`` has no default) into a :class:`Topology`."""
    directory = terraform_dir if terraform_dir is not None else _default_dir()
    return _build(Module(directory, variables))


_default_dir = terraform_dir  # the parameter of load_topology shadows the function's name


# ---- building -------------------------------------------------------------------------------


def _build(m: Module) -> Topology:
    project = m.project
    topic_names = _topics(m)
    subs = _subscriptions(m, project)
    functions = _functions(m, subs)
    topics = _dead_letters(topic_names, subs)
    return Topology(
        project=project,
        topics=topics,
        subscriptions=subs,
        functions=functions,
        grants=grants(m),
        bucket=_landing_bucket(m, functions),
        datasets=_datasets(m),
        tenant_datasets=_tenant_datasets(m),
    )


def _topics(m: Module) -> list[str]:
    names: list[str] = []
    for inst in iter_instances(m, "google_pubsub_topic"):
        name = to_string(inst.attr("name"))
        if name in names:
            raise TopologyError(f"{inst.address}: topic name {name!r} is used twice")
        names.append(name)
    return sorted(names)


def _dead_letters(topic_names: list[str], subs: dict[str, Subscription]) -> dict[str, str]:
    topics = dict.fromkeys(topic_names, "")
    for sub in subs.values():
        for t in (sub.topic, sub.dead_letter_topic):
            if t is not None and t not in topics:
                raise TopologyError(
                    f"subscription {sub.name!r} refers to topic {t!r}, which terraform/ does not declare"
                )
        if sub.dead_letter_topic is None:
            continue
        current = topics[sub.topic]
        if current and current != sub.dead_letter_topic:
            raise TopologyError(
                f"topic {sub.topic!r} has two dead-letter topics: {current!r} and "
                f"{sub.dead_letter_topic!r} (subscription {sub.name!r})"
            )
        topics[sub.topic] = sub.dead_letter_topic
    return topics


# bigquery.tf's resource of the added tenants' datasets
TENANT_DATASETS = "tenant_layer"
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)s$")


def _duration(value: Any, where: str) -> float:
    m = _DURATION.match(to_string(value))
    if not m:
        raise TopologyError(f"{where}: expected a duration such as '10s', got {value!r}")
    return float(m.group(1))


def _subscriptions(m: Module, project: str) -> dict[str, Subscription]:
    fn_by_uri = _function_uris(m)
    out: dict[str, Subscription] = {}
    for inst in iter_instances(m, "google_pubsub_subscription"):
        name = to_string(inst.attr("name"))
        if name in out:
            raise TopologyError(f"{inst.address}: subscription name {name!r} is used twice")
        _, topic = path_name(inst.attr("topic"), "topics")
        push_config = inst.block("push_config")
        retry = inst.block("retry_policy")
        dead = inst.block("dead_letter_policy")
        min_b = max_b = None
        if retry:
            # Pub/Sub's defaults when the block leaves them out: 10 s and 600 s.
            min_b = _duration(retry[0].attr("minimum_backoff", "10s"), retry[0].address)
            max_b = _duration(retry[0].attr("maximum_backoff", "600s"), retry[0].address)
        dead_topic = attempts = None
        if dead:
            _, dead_topic = path_name(dead[0].attr("dead_letter_topic"), "topics")
            attempts = int(dead[0].attr("max_delivery_attempts", 5))
        function = None
        if push_config:
            function = _pushed_function(push_config[0], fn_by_uri)
        out[name] = Subscription(
            name=name,
            topic=topic,
            push=bool(push_config),
            ack_deadline_seconds=int(inst.attr("ack_deadline_seconds", 10)),
            min_backoff_seconds=min_b,
            max_backoff_seconds=max_b,
            dead_letter_topic=dead_topic,
            max_delivery_attempts=attempts,
            function=function,
        )
    return dict(sorted(out.items()))


def _function_key(inst: Instance) -> str:
    if isinstance(inst.key, str):
        return inst.key
    build = inst.block("build_config")
    if build and build[0].has("entry_point"):
        return to_string(build[0].attr("entry_point"))
    return inst.name if inst.key is None else f"{inst.name}-{inst.key}"


def _function_uris(m: Module) -> dict[str, str]:
    """The (placeholder) URL of every function -> its key."""
    out: dict[str, str] = {}
    for inst in iter_instances(m, "google_cloudfunctions2_function"):
        sc = inst.block("service_config")
        if sc:
            out[to_string(sc[0].get("uri"))] = _function_key(inst)
    return out


def _pushed_function(push_config: Block, fn_by_uri: dict[str, str]) -> str | None:
    try:
        endpoint = push_config.attr("push_endpoint")
    except Unknown:
        return None  # pushes somewhere this module does not model: no function of ours
    return fn_by_uri.get(to_string(endpoint))


def _functions(m: Module, subs: dict[str, Subscription]) -> dict[str, Function]:
    out: dict[str, Function] = {}
    for inst in iter_instances(m, "google_cloudfunctions2_function"):
        key = _function_key(inst)
        sc_blocks = inst.block("service_config")
        if not sc_blocks:
            raise TopologyError(f"{inst.address}: no service_config block")
        sc = sc_blocks[0]
        pushes = [s for s in subs.values() if s.push and s.function == key]
        if len(pushes) > 1:
            names = ", ".join(s.name for s in pushes)
            raise TopologyError(f"{inst.address}: driven by several push subscriptions: {names}")
        if pushes:
            topic, subscription = pushes[0].topic, pushes[0].name
        else:
            topic, subscription = _event_trigger_topic(inst), ""
        email = sc.attr("service_account_email", None)
        if email is None:  # Google's default: the Compute Engine default service account
            email = f"{PROJECT_NUMBER_PLACEHOLDER}-compute@developer.gserviceaccount.com"
        env = sc.attr("environment_variables", None) or {}
        if not isinstance(env, dict):
            raise TopologyError(f"{sc.address}: environment_variables is not a map")
        out[key] = Function(
            key=key,
            name=to_string(inst.attr("name")),
            topic=topic,
            max_instances=int(sc.attr("max_instance_count", 100)),
            concurrency=int(sc.attr("max_instance_request_concurrency", 1)),
            timeout_seconds=int(sc.attr("timeout_seconds", 60)),
            memory=to_string(sc.attr("available_memory", "256M")),
            env={k: to_string(v) for k, v in env.items()},
            secret_env=_secret_env(sc, env),
            service_account=f"serviceAccount:{to_string(email)}",
            subscription=subscription,
        )
    return dict(sorted(out.items()))


def _secret_env(service_config: Block, env: dict[str, Any]) -> tuple[str, ...]:
    mounted = {
        to_string(b.attr("key")) for b in service_config.block("secret_environment_variables")
    }
    named = env.get("ST_SECRETS")
    if named is None:
        return tuple(sorted(mounted))
    try:
        references = json.loads(to_string(named))
    except ValueError:
        raise TopologyError(
            f"{service_config.address}: ST_SECRETS is not JSON: {named!r}"
        ) from None
    if not isinstance(references, dict):
        raise TopologyError(f"{service_config.address}: ST_SECRETS is not a JSON object")
    return tuple(sorted(mounted | set(references)))


def _event_trigger_topic(inst: Instance) -> str:
    trigger = inst.block("event_trigger")
    if trigger and trigger[0].has("pubsub_topic"):
        return path_name(trigger[0].attr("pubsub_topic"), "topics")[1]
    raise TopologyError(
        f"{inst.address}: no push subscription pushes to it and it has no Pub/Sub event_trigger"
    )


def _landing_bucket(m: Module, functions: dict[str, Function]) -> str:
    buckets = {
        to_string(i.attr("name")): i.name for i in iter_instances(m, "google_storage_bucket")
    }
    named = {f.env["LANDING_BUCKET"] for f in functions.values() if "LANDING_BUCKET" in f.env}
    if len(named) > 1:
        raise TopologyError(f"the functions disagree on LANDING_BUCKET: {sorted(named)}")
    if named:
        bucket = named.pop()
        if bucket not in buckets:
            raise TopologyError(f"LANDING_BUCKET {bucket!r} is not a bucket terraform/ creates")
        return bucket
    landing = [b for b, rname in buckets.items() if rname == "landing"]
    if len(landing) == 1:
        return landing[0]
    raise TopologyError("no landing bucket: no function sets LANDING_BUCKET")


def _datasets(m: Module) -> dict[str, str]:
    out: dict[str, str] = {}
    for inst in iter_instances(m, "google_bigquery_dataset"):
        if inst.name == TENANT_DATASETS:
            continue
        layer = inst.key if isinstance(inst.key, str) else inst.name
        out[layer] = to_string(inst.attr("dataset_id"))
    return dict(sorted(out.items()))


def _tenant_datasets(m: Module) -> dict[str, dict[str, str]]:
    """Tenant id -> layer -> dataset id, of each added tenant (bigquery.tf, keys
    ``<tenant id>/<layer>``)."""
    out: dict[str, dict[str, str]] = {}
    for inst in iter_instances(m, "google_bigquery_dataset"):
        if inst.name == TENANT_DATASETS:
            tenant, _, layer = str(inst.key).partition("/")
            out.setdefault(tenant, {})[layer] = to_string(inst.attr("dataset_id"))
    return {t: dict(sorted(layers.items())) for t, layers in sorted(out.items())}
