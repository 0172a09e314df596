#!/usr/bin/env bash
# One pass from an empty Google Cloud project to a working st-kpi deployment
# (docs/DEPLOY.md, "One pass"): no step needs a re-run, with or without the ServiceTitan
# credentials at hand.
#
#   scripts/deploy.sh [--secrets-from-env] [--since DAY] [--no-run]   the cloud (terraform.tfvars)
#   scripts/deploy.sh --local [--root DIR] [--since DAY] [--no-run]   the same, on the local stack
#
#   1 apply      terraform init + apply: APIs first, every resource after the API it calls,
#                alerts 11 min after their new log metrics; the functions need no secret
#                value (they read it when a call needs it). Locally: `stkpi local up` from
#                an empty run dir (the deployment terraform/ describes, on the emulators).
#   2 secrets    each ServiceTitan secret without a version gets one: from the environment
#                (--secrets-from-env: ST_CLIENT_ID, ST_CLIENT_SECRET, ST_APP_KEY,
#                ST_TENANT_ID), else typed in (not echoed), else the command to run later
#                is printed: until then, deliveries that need it are dead-lettered with
#                that command, replayable. Locally: the stack hands the simulator's values.
#   3 operator   the CLI's settings (terraform output operator_env -> .env.deploy).
#   4 tenant     `stkpi tenant init`: the tenant's BU map and report map, from the tenant
#                (needs the credentials in your environment; skipped, with the command,
#                without them). Exit 1 of init (something left to map) is reported, not fatal.
#   5 first run  a backfill of the tenant's history (--since YYYY-MM-DD; default a year,
#                locally the simulator's whole history), then `stkpi validate` (locally; in
#                the cloud once the backfill has rebuilt); --no-run skips it. The daily
#                sync then runs on its schedule.
set -euo pipefail
cd "$(dirname "$0")/.."

LOCAL=0 FROM_ENV=0 RUN=1 ROOT="" SINCE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --local) LOCAL=1 ;;
    --root) ROOT=$2; shift ;;
    --secrets-from-env) FROM_ENV=1 ;;
    --no-run) RUN=0 ;;
    --since) SINCE=$2; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "deploy: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

step() { echo; echo "==> deploy step $1"; }
stkpi() { ./dev stkpi "$@"; }
CREDENTIALS=(ST_CLIENT_ID ST_CLIENT_SECRET ST_APP_KEY ST_TENANT_ID)

if [ "$LOCAL" = 1 ]; then
  export STKPI_STACK_ROOT=${ROOT:-.stkpi/deploy}
  rm -rf "$STKPI_STACK_ROOT"  # an empty state, as a fresh project is
  trap 'stkpi local down >/dev/null 2>&1 || true' EXIT

  step "1/5 apply: the local stack from terraform/ ($STKPI_STACK_ROOT)"
  stkpi local up
  step "2/5 secrets: the local stack hands the simulator's credentials to fetch_window and rebuild_dims"
  step "3/5 operator: the CLI reads the stack's settings from $STKPI_STACK_ROOT/stack.json"
  step "4/5 tenant: the tenant's maps, from the tenant"
  stkpi tenant init || echo "deploy: tenant init left something to map (above); continuing"
  if [ "$RUN" = 1 ]; then
    step "5/5 first run: a backfill of the tenant's history, then the validations"
    stkpi backfill --start "${SINCE:-2019-01-01}"  # up to now: the simulator's clock here
    stkpi validate || echo "deploy: validations not all GREEN (above: each says what to do)"
  fi
  echo; echo "deploy: done (local)"
  exit 0
fi

command -v terraform >/dev/null || { echo "deploy: terraform is not installed" >&2; exit 2; }
command -v gcloud >/dev/null || { echo "deploy: gcloud is not installed" >&2; exit 2; }
[ -f terraform/terraform.tfvars ] || {
  echo "deploy: terraform/terraform.tfvars is missing: cp terraform/terraform.tfvars.example terraform/terraform.tfvars and set project_id" >&2
  exit 2
}
tf() { terraform -chdir=terraform "$@"; }
out() { tf output -json "$1"; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get(sys.argv[1], ""))' "$1"; }

step "1/5 apply: terraform init + apply (one pass; a first one waits ~11 min for the alerts)"
tf init -input=false
tf apply -input=false -auto-approve
PROJECT=$(out operator_env | field GCP_PROJECT)

step "2/5 secrets: a version for each ServiceTitan secret that has none"
has_version() {
  [ -n "$(gcloud secrets versions list "$1" --project "$PROJECT" --filter=state=ENABLED \
          --limit=1 --format='value(name)')" ]
}
for var in "${CREDENTIALS[@]}"; do
  id=$(out secret_ids | field "$var")
  if has_version "$id"; then
    echo "  $id: has a version"
    continue
  fi
  value=""
  if [ "$FROM_ENV" = 1 ]; then
    value=${!var:-}
  elif [ -t 0 ]; then
    read -rsp "  $id ($var, not echoed; empty = later): " value; echo
  fi
  if [ -n "$value" ]; then
    printf %s "$value" | gcloud secrets versions add "$id" --project "$PROJECT" --data-file=- >/dev/null
    echo "  $id: added"
  else
    echo "  $id: no version yet; until it has one, deliveries that need it are dead-lettered,"
    echo "    replayable, naming this command: read -rs V && printf %s \"\$V\" | gcloud secrets versions add $id --project $PROJECT --data-file=-"
  fi
  value=""
done

step "3/5 operator: the CLI's settings -> .env.deploy"
out operator_env | python3 -c 'import json,sys; [print(f"{k}={v}") for k,v in json.load(sys.stdin).items()]' > .env.deploy
echo "  load them with: set -a; . ./.env.deploy; set +a"
set -a; . ./.env.deploy; set +a

step "4/5 tenant: the tenant's maps, from the tenant"
have_credentials=1
for var in "${CREDENTIALS[@]}"; do [ -n "${!var:-}" ] || have_credentials=0; done
if [ "$have_credentials" = 1 ]; then
  stkpi tenant init || echo "deploy: tenant init left something to map (above); continuing"
else
  echo "  skipped: put ${CREDENTIALS[*]} in your environment (or .env), then run ./dev stkpi tenant init"
fi

if [ "$RUN" = 1 ]; then
  step "5/5 first run: a backfill of the tenant's history since ${SINCE:-a year ago}"
  stkpi backfill --start "${SINCE:-$(date -u -d '365 days ago' +%F)}" --no-wait  # up to now
  echo "  follow it with ./dev stkpi status; ./dev stkpi validate once it has rebuilt;"
  echo "  the daily sync then runs by itself ($(out scheduler_jobs | tr -d '[]\"' | tr , ' '))"
fi
echo; echo "deploy: done. What a first deploy checks by hand: docs/DEPLOY.md, 'First deploy'."
