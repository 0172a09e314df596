#!/usr/bin/env bash
# Emulator prerequisites that pip alone does not provide. Idempotent; run by ./dev setup.
#  - bqemulator loads DuckDB's spatial extension and would try to download it: copy the
#    pinned wheel's binary to where DuckDB looks, so it never touches the network.
#  - The Pub/Sub emulator comes from the Google Cloud CLI (Java); check it is there.
set -euo pipefail
VENV=${1:?usage: setup_emulators.sh VENV}
ext_src=$("$VENV/bin/python" - <<'PY'
import pathlib, duckdb_extension_spatial as m
root = pathlib.Path(m.__file__).parent
hits = sorted(root.rglob("spatial.duckdb_extension"))
print(hits[0] if hits else "")
PY
)
if [ -z "$ext_src" ]; then echo "duckdb-extension-spatial wheel has no spatial.duckdb_extension" >&2; exit 1; fi
duck_version=$("$VENV/bin/python" -c 'import duckdb; print(duckdb.__version__)')
dest="$HOME/.duckdb/extensions/v$duck_version/linux_amd64"
mkdir -p "$dest"
# Replace by rename, never in place: every running bqemulator has this file mapped, and
# rewriting it under them (cp -f truncates the same inode) crashes them all with SIGSEGV.
if ! cmp -s "$ext_src" "$dest/spatial.duckdb_extension"; then
  tmp=$(mktemp "$dest/.spatial.XXXXXX")
  cp "$ext_src" "$tmp"
  mv -f "$tmp" "$dest/spatial.duckdb_extension"
fi
if ! gcloud beta emulators pubsub --help >/dev/null 2>&1; then
  echo "the Google Cloud CLI Pub/Sub emulator is missing: install google-cloud-cli and" >&2
  echo "google-cloud-cli-pubsub-emulator (apt) and java 17" >&2
  exit 1
fi
if ! command -v java >/dev/null; then echo "java (17+) is required by the Pub/Sub emulator" >&2; exit 1; fi
