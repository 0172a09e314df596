#!/usr/bin/env bash
# Install Debian's chromium for the report's browser test (tests/integration/test_report.py).
# Idempotent: returns at once when /usr/bin/chromium exists. Needs root (CI runs as root);
# without root it only says how, so `./dev setup` still succeeds and the test skips
# locally (it fails under CI=true, where the browser is required).
set -euo pipefail
BROWSER=${STKPI_CHROMIUM:-/usr/bin/chromium}
[ -x "$BROWSER" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "setup_browser: $BROWSER missing; as root run: apt-get update && apt-get install -y chromium" >&2
  exit 0
fi
echo "==> installing chromium (apt)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
[ -x "$BROWSER" ] || { echo "setup_browser: chromium did not install at $BROWSER" >&2; exit 1; }
