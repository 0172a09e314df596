"""``Stack``: the whole local stack in one object (or one command: ``stkpi local up``).

The deployment it stands up is terraform/'s, evaluated with terraform/local.tfvars.json
(``stkpi_tools.localstack.settings_env``): the same topics, subscriptions and policies, each
function's environment, capacity and service account, and the IAM grants.

Start order: fake-gcs, bqemulator (reading gs:// from fake-gcs's filesystem root), Pub/Sub
and the ServiceTitan simulator (optional: any ``ST_API_BASE_URL`` will do) side by side,
provisioning (what terraform apply creates), the IAM gate (each principal's calls are judged
against its grants), the four function servers side by side (each as its service account,
through the gate), their front doors (capacity, as Cloud Run), then Pub/Sub wiring (push
subscriptions to the front doors, or pull subscriptions and the dispatcher when
``dispatcher_concurrency`` is set). ``stop`` stops the dispatcher first, then the rest at once.
``StackInfo`` is saved as ``<root>/stack.json`` so other processes (``stkpi local down``,
``stkpi status``) find it; its environment is the operator's (terraform's
``operator_members``), so the CLI is judged by the gate too.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

from stkpi.config import Settings
from stkpi.secrets import SECRETS_DIR_ENV
from stkpi_tools.localstack.functions import (
    FUNCTIONS,
    function_env,
    function_instances,
    functions_dir,
)
from stkpi_tools.localstack.ports import free_port
from stkpi_tools.localstack.process import (
    Service,
    ServiceError,
    spawn,
    start_on_fresh_ports,
    tcp_open,
)
from stkpi_tools.localstack.provision import provision
from stkpi_tools.localstack.services import (
    DEFAULT_PROJECT,
    gcs_root_of,
    start_bigquery,
    start_front,
    start_function,
    start_gcs,
    start_pubsub,
    start_simulator,
)
from stkpi_tools.localstack.settings_env import (
    CREDENTIALS,
    LOCAL_CREDENTIALS,
    local_settings_env,
    local_topology,
    local_variables,
    settings_from,
    user_variables,
)
from stkpi_tools.localstack.stack_info import STACK_FILE, StackInfo
from stkpi_tools.localstack.tenants import (
    SECRETS_DIR,
    terraform_tenants,
    write_sim_tenants,
    write_tenant_secrets,
)
from stkpi_tools.localstack.together import start_together, stop_together
from stkpi_tools.sim.config import TenantSpec
from stkpi_tools.terraform.topology import Topology

EMULATORS = ("gcs", "bigquery", "pubsub")


class Stack:
    """The local stack; ``start()`` -> ``StackInfo``, ``stop()``; a context manager too."""

    def __init__(
        self,
        root_dir: Path,
        *,
        project: str = DEFAULT_PROJECT,
        with_simulator: bool = True,
        sim_args: dict | None = None,
        functions: bool = True,
        dispatcher_concurrency: int | None = None,
        st_api_base_url: str | None = None,
        settings_env: Mapping[str, str] | None = None,
        function_sources: Mapping[str, tuple[Path, str]] | None = None,
        function_threads: int | None = None,
        reuse: Mapping[str, Service] | None = None,
        detached: bool = False,
        timeout: float = 120.0,
        tf_variables: Mapping[str, object] | None = None,
        iam: bool | None = None,
        user_settings: Mapping[str, str] | None = None,
        tenants: Sequence[TenantSpec] = (),
    ) -> None:
        """``st_api_base_url`` points at another ServiceTitan server (no simulator started);
        ``settings_env`` overrides Settings variables; ``function_sources`` maps function
        name -> (main.py, target) (default ``functions/<name>/main.py``, target = name);
        ``reuse`` takes already running ``gcs``/``bigquery``/``pubsub`` services (not
        stopped by this stack); ``detached`` services outlive this Python process;
        ``tf_variables`` are terraform variables over terraform/local.tfvars.json (e.g.
        ``name_prefix`` to share a Pub/Sub emulator); ``iam=False`` drops the IAM gate
        (default: on, unless ``STKPI_IAM_GATE=0`` is set to tell an IAM refusal from
        another bug while debugging; the test suite and CI always run with it);
        ``user_settings`` are what a user set in the environment or .env
        (``settings_env.user_settings``): time zone, page size and rate always, and with
        ``st_api_base_url`` their auth URL and credentials too. Credentials reach the fetch
        function's process only, never stack.json. ``tenants``: tenants the simulator serves
        besides the default one (``stkpi_tools.localstack.tenants``): terraform's
        ``tenants`` variable names them, and their credentials are written as their secrets
        in ``<root>/secrets`` (``ST_SECRETS_DIR``, for the functions that call ServiceTitan
        and the operator's CLI)."""
        self.root = Path(root_dir).resolve()
        self.project = project
        self.with_simulator = with_simulator and not st_api_base_url
        self.sim_args = dict(sim_args or {})
        self.functions = functions
        self.dispatcher_concurrency = dispatcher_concurrency
        self.st_api_base_url = st_api_base_url
        self.settings_env = dict(settings_env or {})
        self.function_sources = dict(function_sources or {})
        self.function_threads = function_threads
        self.reuse = dict(reuse or {})
        self.detached = detached
        self.timeout = timeout
        self.user = dict(user_settings or {})
        self.tenants = tuple(tenants)
        if self.tenants and not self.with_simulator:
            raise ServiceError("added tenants are the simulator's: another server has its own")
        self.tf_variables = {
            **user_variables(self.user, own_server=not self.with_simulator),
            **({"tenants": terraform_tenants(self.tenants)} if self.tenants else {}),
            **(tf_variables or {}),
        }
        self.iam = iam if iam is not None else os.environ.get("STKPI_IAM_GATE", "1") != "0"
        self.services: dict[str, Service] = {}
        self._owned: list[str] = []
        self.info: StackInfo | None = None
        self._wired: dict[str, dict[str, str]] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> StackInfo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _add(self, name: str, service: Service, owned: bool = True) -> Service:
        self.services[name] = service
        if owned:
            self._owned.append(name)
        return service

    def start(self) -> StackInfo:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackInfo:
        self._start_backends()
        if self.with_simulator:
            st_env = self.services["simulator"].env()  # its fake credentials may be recorded
            secrets = {k: st_env[k] for k in CREDENTIALS if k in st_env}
        else:
            url = self.st_api_base_url or "http://127.0.0.1:9"
            st_env = {"ST_API_BASE_URL": url, "ST_AUTH_URL": self.user.get("ST_AUTH_URL", url)}
            secrets = {k: self.user.get(k) or LOCAL_CREDENTIALS[k] for k in CREDENTIALS}

        topology = local_topology(self.project, self.tf_variables)
        admin = {k: v for name in EMULATORS for k, v in self.services[name].env().items()}
        env = local_settings_env(self.project, extra=st_env, variables=self.tf_variables)
        if self.tenants:
            env[SECRETS_DIR_ENV] = str(self._write_tenant_secrets(st_env["ST_API_BASE_URL"]))
        env.update(self.settings_env)
        if any(k in self.user for k in CREDENTIALS) and not self.with_simulator:
            for key in CREDENTIALS:  # real credentials: only functions with reads_st_api
                env.pop(key, None)
        settings = settings_from({**env, **admin})
        provision(settings, topology, env=admin, pubsub=False)  # terraform apply's part
        if self.with_simulator and secrets.get("ST_TENANT_ID"):
            # the operator's `stkpi tenant import` of the demo's data (the simulated
            # tenants' BU and report maps), before any run can rebuild
            added = [t.tenant_id for t in self.tenants if not t.bu_names]
            self._write_simulated_maps(settings, admin, secrets["ST_TENANT_ID"], added)

        principal_env = self._start_gate(topology, admin) if self.iam else {}
        endpoints: dict[str, str] = {}
        if self.functions:
            endpoints = self._start_functions(topology, env, secrets, admin, principal_env)

        mode = "pull" if self.dispatcher_concurrency else "push"
        self._wired = provision(
            settings, topology, env=admin, endpoints=endpoints, mode=mode,
            storage=False, bigquery=False,
        )  # fmt: skip
        if self.dispatcher_concurrency and endpoints:
            self._add("dispatcher", self._start_dispatcher(topology, admin, endpoints))

        info = StackInfo(
            root=str(self.root),
            project=self.project,
            mode="dispatcher" if self.dispatcher_concurrency else "push",
            ports={n: s.port for n, s in self.services.items()},
            pids={n: s.pid for n, s in self.services.items()},
            logs={n: str(s.log_path) for n, s in self.services.items()},
            env_vars={**env, **(principal_env[self._operator()] if self.iam else admin)},
            owned=list(self._owned),
            started_at=time.time(),
            tf_variables=dict(self.tf_variables),
            iam=self.iam,
            admin_env_vars=admin,
        )
        info.save()
        self.info = info
        return info

    def _start_backends(self) -> None:
        """The emulators this stack does not reuse and the simulator, side by side."""
        root, kw = self.root, {"detached": self.detached}
        for name, service in self.reuse.items():
            self._add(name, service, owned=False)
        gcs_root = self.reuse["gcs"].data_dir if "gcs" in self.reuse else gcs_root_of(root)
        starters = {
            "gcs": lambda: start_gcs(root, **kw),
            "bigquery": lambda: start_bigquery(root, project=self.project, gcs_root=gcs_root, **kw),
            "pubsub": lambda: start_pubsub(root, project=self.project, **kw),
        }
        starters = {name: start for name, start in starters.items() if name not in self.reuse}
        if self.with_simulator:
            args = dict(self.sim_args)
            if self.tenants:
                args["tenants"] = write_sim_tenants(root, self.tenants)
            starters["simulator"] = lambda: start_simulator(
                root, scale=args.pop("scale", None), seed=args.pop("seed", None),
                extra_args=args, timeout=600, **kw,  # production scale takes a while
            )  # fmt: skip
        start_together(starters, self._add)

    def _write_tenant_secrets(self, sim_url: str) -> Path:
        """The added tenants' credentials, as the simulator issued them, as their secrets."""
        from stkpi_tools.sim.admin import SimAdmin

        admin = SimAdmin(sim_url)
        try:
            served = admin.tenants()[1:]  # the primary is the default tenant
        finally:
            admin.close()
        prefix = str(local_variables(self.project, self.tf_variables).get("name_prefix") or "")
        directory = self.root / SECRETS_DIR
        write_tenant_secrets(directory, self.project, prefix, served)
        return directory

    @staticmethod
    def _write_simulated_maps(
        settings: Settings, admin: dict[str, str], tenant: str, added: Sequence[str] = ()
    ) -> None:
        from stkpi import gcp
        from stkpi_tools.localstack.provision import patched_environ
        from stkpi_tools.tenant.simulated import write_simulated_maps

        with patched_environ(admin):
            client = gcp.bigquery_client(settings)
            try:
                write_simulated_maps(client, settings, tenant)
                for other in added:
                    write_simulated_maps(client, settings, other, added=True)
            finally:
                client.close()

    def _start_gate(self, topology: Topology, admin: dict[str, str]) -> dict[str, dict[str, str]]:
        """The IAM gate in front of the emulators, judging each principal by terraform's
        grants; returns each principal's client environment (its gate ports)."""
        from stkpi_tools.localstack.iam import gate_ports, load_roles, principal_env, start_gate
        from stkpi_tools.localstack.iam.policy import Policy

        members = sorted({fn.service_account for fn in topology.functions.values()})
        members.append(self._operator())
        config = {
            "policy": Policy(topology.grants, load_roles()).to_json(),
            "backends": {
                "storage": admin["STORAGE_EMULATOR_HOST"],
                "bigquery": admin["BIGQUERY_EMULATOR_HOST"],
                "pubsub": admin["PUBSUB_EMULATOR_HOST"],
            },
        }
        gate = self._add("iam-gate", start_gate(self.root, config, members, detached=self.detached))
        return {m: principal_env(gate_ports(gate, m)) for m in members}

    def _operator(self) -> str:
        """The member the CLI runs as: the first of terraform's ``operator_members``."""
        operators = local_variables(self.project, self.tf_variables).get("operator_members")
        if not operators:
            raise ServiceError("terraform/local.tfvars.json names no operator_members")
        return str(operators[0])

    def _start_functions(
        self,
        topology: Topology,
        env: dict[str, str],
        secrets: dict[str, str],
        admin: dict[str, str],
        principal_env: dict[str, dict[str, str]],
    ) -> dict[str, str]:
        """One server per function, as its service account, behind its front door;
        returns the push endpoint (front door URL) of each."""
        starters: dict[str, Callable[[], Service]] = {}
        doors: dict[str, dict[str, object]] = {}
        for key in FUNCTIONS:
            fn = topology.functions[key]
            source, target = self.function_sources.get(
                key, (functions_dir() / key / "main.py", key)
            )
            if not Path(source).exists():
                raise ServiceError(f"function {key}: {source} does not exist")
            fenv = function_env(fn, env, secrets, self.settings_env)
            fenv.update(principal_env.get(fn.service_account, admin))
            capacity = fn.max_instances * fn.concurrency
            workers, threads = function_instances(fn.max_instances, capacity, self.function_threads)
            if workers > 1 and "ST_RATE_LIMIT_PER_SECOND" in self.settings_env:
                # An override is the function's whole budget; each instance has its share.
                total = float(self.settings_env["ST_RATE_LIMIT_PER_SECOND"])
                fenv["ST_RATE_LIMIT_PER_SECOND"] = f"{total / workers:g}"
            starters[key] = partial(
                start_function, self.root, key, Path(source), target=target, env=fenv,
                threads=threads, workers=workers, timeout=self.timeout, detached=self.detached,
            )  # fmt: skip
            doors[key] = {"capacity": capacity, "timeout": fn.timeout_seconds}
        servers = start_together(starters, lambda key, svc: self._add(f"fn-{key}", svc))
        for key, door in doors.items():
            door["backend"] = servers[key].url
        front = self._add("front", start_front(self.root, doors, detached=self.detached))
        return {key: f"http://127.0.0.1:{port}/" for key, port in front.extra_ports.items()}

    def _unwire(self) -> None:
        from google.cloud import pubsub_v1

        from stkpi_tools.localstack.provision import patched_environ

        with patched_environ(self.services["pubsub"].env()):
            subscriber = pubsub_v1.SubscriberClient()
            try:
                for paths in self._wired.values():
                    with contextlib.suppress(Exception):
                        subscriber.delete_subscription(
                            request={"subscription": paths["subscription"]}
                        )
            finally:
                subscriber.close()
        self._wired = {}

    @start_on_fresh_ports
    def _start_dispatcher(
        self, topology: Topology, admin: dict[str, str], endpoints: dict[str, str]
    ) -> Service:
        """Pulls the push subscriptions (created as pull) and POSTs to the front doors."""
        port = free_port()  # health endpoint
        config = self.root / "dispatcher.json"
        subs = {
            key: topology.subscriptions[fn.subscription] for key, fn in topology.functions.items()
        }
        config.write_text(
            json.dumps(
                {
                    "project": self.project,
                    "endpoints": endpoints,
                    "subscriptions": {key: sub.name for key, sub in subs.items()},
                    "concurrency": self.dispatcher_concurrency,
                    "max_delivery_attempts": max(
                        s.max_delivery_attempts or 5 for s in subs.values()
                    ),
                    "port": port,
                }
            )
        )
        argv = [sys.executable, "-m", "stkpi_tools.localstack.dispatcher", str(config)]
        return spawn(
            "dispatcher", argv, port=port, log_dir=self.root, ready=lambda: tcp_open(port),
            timeout=30, env=admin, detached=self.detached,
        )  # fmt: skip

    def stop(self) -> None:
        """Stop every service this stack started (reused ones are left running).

        On a reused Pub/Sub emulator the subscriptions this stack created are deleted, so
        none keeps pushing to a function server that no longer exists. The dispatcher
        stops first, so it is not left pulling from subscriptions that are gone."""
        if "dispatcher" in self._owned:
            with contextlib.suppress(Exception):
                self.services["dispatcher"].stop()
            self._owned.remove("dispatcher")
        if "pubsub" in self.services and "pubsub" not in self._owned and self._wired:
            self._unwire()
        stop_together(self.services[name] for name in self._owned)
        self._owned.clear()
        with contextlib.suppress(OSError):
            (self.root / STACK_FILE).unlink()
