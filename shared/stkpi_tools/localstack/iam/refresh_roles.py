"""Regenerate ``roles.json`` (predefined role -> permissions) from iann0036/iam-dataset.

The facts come from the public dataset repository ``iann0036/iam-dataset``
(``gcp/roles/<role>.json``, scraped from Google's IAM role reference). Only the roles this
project grants (or may grant soon) are kept, so the file stays small and reviewable::

    python -m stkpi_tools.localstack.iam.refresh_roles --git-dir PATH/TO/iam-dataset.git [ROLE...]

``ROLE`` arguments (``roles/x.y``) are added to the roles already in ``roles.json``; with a
role that terraform/ starts to grant, run this and commit the result (a unit test fails
until then).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
from pathlib import Path

ROLES_FILE = Path(__file__).with_name("roles.json")
REPOSITORY = "github.com/iann0036/iam-dataset"

BASE_ROLES = (
    "roles/bigquery.dataEditor",
    "roles/bigquery.dataViewer",
    "roles/bigquery.jobUser",
    "roles/bigquery.user",
    "roles/cloudbuild.builds.builder",
    "roles/iam.serviceAccountTokenCreator",
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/pubsub.publisher",
    "roles/pubsub.subscriber",
    "roles/pubsub.viewer",
    "roles/run.invoker",
    "roles/secretmanager.secretAccessor",
    "roles/storage.objectAdmin",
    "roles/storage.objectCreator",
    "roles/storage.objectUser",
    "roles/storage.objectViewer",
)


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True, text=True
    ).stdout


def build(git_dir: Path, roles: list[str]) -> dict[str, object]:
    commit, date = _git(git_dir, "log", "-1", "--format=%H %cs", "HEAD").split()
    out: dict[str, object] = {
        "_source": (
            f"{REPOSITORY} gcp/roles/<role>.json at commit {commit} ({date}); "
            f"extracted {dt.date.today().isoformat()} by stkpi_tools.localstack.iam.refresh_roles"
        )
    }
    for role in sorted(set(roles)):
        data = json.loads(
            _git(git_dir, "show", f"HEAD:gcp/roles/{role.removeprefix('roles/')}.json")
        )
        if data.get("name") != role:
            raise SystemExit(f"{role}: the dataset names it {data.get('name')!r}")
        out[role] = sorted(set(data["includedPermissions"]))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git-dir", type=Path, required=True)
    parser.add_argument("roles", nargs="*")
    args = parser.parse_args(argv)
    current = json.loads(ROLES_FILE.read_text()) if ROLES_FILE.exists() else {}
    roles = [*BASE_ROLES, *(r for r in current if not r.startswith("_")), *args.roles]
    ROLES_FILE.write_text(json.dumps(build(args.git_dir, roles), indent=1) + "\n")
    print(f"wrote {ROLES_FILE} ({len(set(roles))} roles)")


if __name__ == "__main__":
    main()
