"""``Stack``: the whole local stack in one object (or one command: ``stkpi local up``).

Start order: fake-gcs, bqemulator (reading gs:// from fake-gcs's filesystem root), Pub/Sub,
the ServiceTitan simulator (optional: any ``ST_API_BASE_URL`` will do), provisioning, the
four function servers, then Pub/Sub wiring (push subscriptions, or pull subscriptions and
the dispatcher when ``dispatcher_concurrency`` is set). ``StackInfo`` is saved as
``<root>/stack.json`` so other processes (``stkpi local down``, ``stkpi status``) find it.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stkpi import sqlfiles
from stkpi.localstack import wiring
from stkpi.localstack.process import (
    Service,
    ServiceError,
    free_port,
    kill_group,
    pgid_alive,
    spawn,
    tcp_open,
)
from stkpi.localstack.provision import provision
from stkpi.localstack.services import (
    DEFAULT_PROJECT,
    start_bigquery,
    start_function,
    start_gcs,
    start_pubsub,
    start_simulator,
)
from stkpi.localstack.settings_env import local_settings_env, settings_from

FUNCTIONS = tuple(wiring.FUNCTION_TOPICS)  # plan_windows, fetch_window, load_batch, rebuild_dims
STACK_FILE = "stack.json"


def functions_dir() -> Path:
    """The repo's ``functions/`` folder (a sibling of ``sql/``)."""
    return sqlfiles.sql_dir().parent / "functions"


@dataclass
class StackInfo:
    """Where everything runs. ``env()`` is what pipeline processes need."""

    root: str
    project: str
    mode: str  # push | dispatcher
    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)  # = process group ids
    logs: dict[str, str] = field(default_factory=dict)
    env_vars: dict[str, str] = field(default_factory=dict)
    owned: list[str] = field(default_factory=list)  # services this stack must stop
    started_at: float = 0.0

    def env(self) -> dict[str, str]:
        return dict(self.env_vars)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def urls(self) -> dict[str, str]:
        """Service name -> base URL (the Pub/Sub emulator speaks gRPC on the same port)."""
        return {name: self.url(name) for name in self.ports}

    def save(self) -> Path:
        path = Path(self.root) / STACK_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, root: Path | str) -> StackInfo:
        path = Path(root) / STACK_FILE
        if not path.exists():
            raise ServiceError(f"no local stack recorded at {path}")
        return cls(**json.loads(path.read_text()))

    def alive(self) -> dict[str, bool]:
        return {name: pgid_alive(pid) for name, pid in self.pids.items()}

    def stop(self, grace: float = 10.0) -> None:
        """Stop exactly the recorded process groups this stack started."""
        for name in reversed(self.owned):
            pid = self.pids.get(name)
            if pid:
                kill_group(pid, grace=grace)


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
    ) -> None:
        """``st_api_base_url`` points at another ServiceTitan server (no simulator started);
        ``settings_env`` overrides Settings variables; ``function_sources`` maps function
        name -> (main.py, target) (default ``functions/<name>/main.py``, target = name);
        ``reuse`` takes already running ``gcs``/``bigquery``/``pubsub`` services (not
        stopped by this stack); ``detached`` services outlive this Python process."""
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
        root, kw = self.root, {"detached": self.detached}
        gcs = self.reuse.get("gcs") or start_gcs(root, **kw)
        self._add("gcs", gcs, owned="gcs" not in self.reuse)
        bq = self.reuse.get("bigquery") or start_bigquery(
            root, project=self.project, gcs_root=gcs.data_dir, **kw
        )
        self._add("bigquery", bq, owned="bigquery" not in self.reuse)
        ps = self.reuse.get("pubsub") or start_pubsub(root, project=self.project, **kw)
        self._add("pubsub", ps, owned="pubsub" not in self.reuse)

        st_env: dict[str, str] = {}
        if self.with_simulator:
            args = dict(self.sim_args)
            sim = start_simulator(
                root, scale=args.pop("scale", None), seed=args.pop("seed", None),
                extra_args=args, timeout=600, **kw,  # production scale takes a while
            )  # fmt: skip
            self._add("simulator", sim)
            st_env = sim.env()
        elif self.st_api_base_url:
            st_env = {"ST_API_BASE_URL": self.st_api_base_url, "ST_AUTH_URL": self.st_api_base_url}

        env = local_settings_env(self.project, extra=st_env)
        env.update(self.settings_env)
        for name in ("gcs", "bigquery", "pubsub"):
            env.update(self.services[name].env())
        settings = settings_from(env)

        provision(settings, env=env, pubsub=False)

        endpoints: dict[str, str] = {}
        if self.functions:
            threads = self.function_threads or max(8, self.dispatcher_concurrency or 0)
            for fn in FUNCTIONS:
                source, target = self.function_sources.get(
                    fn, (functions_dir() / fn / "main.py", fn)
                )
                if not Path(source).exists():
                    raise ServiceError(f"function {fn}: {source} does not exist")
                svc = start_function(
                    root, fn, Path(source), target=target, env=env, threads=threads,
                    timeout=self.timeout, **kw,
                )  # fmt: skip
                self._add(f"fn-{fn}", svc)
                endpoints[fn] = f"{svc.url}/"

        mode = "pull" if self.dispatcher_concurrency else "push"
        self._wired = provision(
            settings, env=env, endpoints=endpoints, mode=mode, storage=False, bigquery=False
        )
        if self.dispatcher_concurrency and endpoints:
            self._add("dispatcher", self._start_dispatcher(env, endpoints))

        info = StackInfo(
            root=str(root),
            project=self.project,
            mode="dispatcher" if self.dispatcher_concurrency else "push",
            ports={n: s.port for n, s in self.services.items()},
            pids={n: s.pid for n, s in self.services.items()},
            logs={n: str(s.log_path) for n, s in self.services.items()},
            env_vars=env,
            owned=list(self._owned),
            started_at=time.time(),
        )
        info.save()
        self.info = info
        return info

    def _unwire(self) -> None:
        from google.cloud import pubsub_v1

        from stkpi.localstack.provision import patched_environ

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

    def _start_dispatcher(self, env: dict[str, str], endpoints: dict[str, str]) -> Service:
        port = free_port()  # health endpoint
        config = self.root / "dispatcher.json"
        config.write_text(
            json.dumps(
                {
                    "project": self.project,
                    "endpoints": endpoints,
                    "subscriptions": {
                        fn: wiring.pull_subscription(topic)
                        for fn, topic in wiring.topics(settings_from(env)).items()
                    },
                    "dead_topics": {
                        fn: wiring.dead_topic(topic)
                        for fn, topic in wiring.topics(settings_from(env)).items()
                    },
                    "concurrency": self.dispatcher_concurrency,
                    "max_delivery_attempts": wiring.MAX_DELIVERY_ATTEMPTS,
                    "port": port,
                }
            )
        )
        argv = [sys.executable, "-m", "stkpi.localstack.dispatcher", str(config)]
        return spawn(
            "dispatcher", argv, port=port, log_dir=self.root, ready=lambda: tcp_open(port),
            timeout=30, env=env, detached=self.detached,
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
        for name in reversed(self._owned):
            with contextlib.suppress(Exception):
                self.services[name].stop()
        self._owned.clear()
        with contextlib.suppress(OSError):
            (self.root / STACK_FILE).unlink()
