# Inputs. No variable carries a ServiceTitan credential: those live in Secret Manager
# (secrets.tf) and their values are added with gcloud, so they never enter state.

variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 chars, lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  description = "Region of the functions, the Scheduler jobs and the landing bucket."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1."
  }
}

variable "labels" {
  description = "Extra labels added to every resource that takes labels."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "labels keys and values must be lowercase letters, digits, '_' or '-' (keys start with a letter)."
  }
}

# --- ServiceTitan -------------------------------------------------------------------------

variable "st_api_base_url" {
  description = "ServiceTitan API base URL (ST_API_BASE_URL). Any server speaking the same API works."
  type        = string
  default     = "https://api.servicetitan.io"

  validation {
    condition     = can(regex("^https://", var.st_api_base_url))
    error_message = "st_api_base_url must be an https:// URL."
  }
}

variable "st_auth_url" {
  description = "ServiceTitan auth server URL (ST_AUTH_URL)."
  type        = string
  default     = "https://auth.servicetitan.io"

  validation {
    condition     = can(regex("^https://", var.st_auth_url))
    error_message = "st_auth_url must be an https:// URL."
  }
}

variable "tenant_rate_limit_per_second" {
  description = "The tenant's ServiceTitan rate limit per (app key, tenant) pair, requests/s (ServiceTitan's default is 60)."
  type        = number
  default     = 60

  validation {
    condition     = var.tenant_rate_limit_per_second > 0 && var.tenant_rate_limit_per_second <= 1000
    error_message = "tenant_rate_limit_per_second must be in (0, 1000]."
  }
}

variable "rate_limit_safety_factor" {
  description = "Share of the tenant's rate limit the fetch functions may use together (the rest is headroom for other apps and for retries)."
  type        = number
  default     = 0.5

  validation {
    condition     = var.rate_limit_safety_factor > 0 && var.rate_limit_safety_factor <= 1
    error_message = "rate_limit_safety_factor must be in (0, 1]."
  }
}

variable "fetch_rate_per_instance" {
  description = "Requests/s one fetch_window instance may make (its token bucket, ST_RATE_LIMIT_PER_SECOND). fetch_window's max_instance_count is floor(tenant_rate_limit_per_second * rate_limit_safety_factor / fetch_rate_per_instance)."
  type        = number
  default     = 5

  validation {
    condition     = var.fetch_rate_per_instance > 0 && var.fetch_rate_per_instance <= var.tenant_rate_limit_per_second * var.rate_limit_safety_factor
    error_message = "fetch_rate_per_instance must be > 0 and at most tenant_rate_limit_per_second * rate_limit_safety_factor (otherwise even one instance exceeds the budget)."
  }
}

variable "st_page_size" {
  description = "ServiceTitan page size (ST_PAGE_SIZE), 1..5000. ServiceTitan's largest page is the default: the limit is per request, so a smaller page costs more of it per record."
  type        = number
  default     = 5000

  validation {
    condition     = var.st_page_size >= 1 && var.st_page_size <= 5000 && floor(var.st_page_size) == var.st_page_size
    error_message = "st_page_size must be an integer in 1..5000."
  }
}

variable "window_days" {
  description = "Longest window in days for plans that do not give one (WINDOW_DAYS). Windows split themselves by record count (window_target_pages), so the default of 10 years plans one coarse window per entity."
  type        = number
  default     = 3660

  validation {
    condition     = var.window_days >= 1 && var.window_days <= 3660 && floor(var.window_days) == var.window_days
    error_message = "window_days must be an integer in 1..3660."
  }
}

variable "window_target_pages" {
  description = "A window holding more than this many full pages splits into children (WINDOW_TARGET_PAGES): windows are sized by record count, not days."
  type        = number
  default     = 25

  validation {
    condition     = var.window_target_pages >= 1 && var.window_target_pages <= 10000 && floor(var.window_target_pages) == var.window_target_pages
    error_message = "window_target_pages must be an integer in 1..10000."
  }
}

variable "report_timezone" {
  description = "IANA time zone the KPIs are reported in (REPORT_TIMEZONE)."
  type        = string
  default     = "America/Phoenix"

  validation {
    condition     = can(regex("^[A-Za-z]+(/[A-Za-z0-9_+-]+)*$", var.report_timezone))
    error_message = "report_timezone must be an IANA time zone name such as America/Phoenix."
  }
}

variable "tenants" {
  description = "ServiceTitan tenants this deployment serves besides its default one (docs/TENANTS.md), by tenant id: each gets its own Secret Manager secrets (client id, client secret, app key; values added with gcloud, never here) that only the functions calling ServiceTitan may read, and its own Scheduler jobs (scheduler.tf) in its time_zone (an IANA zone, e.g. America/New_York: the same the tenant is registered with, `stkpi tenant add --time-zone`). Register each with `stkpi tenant add` once its secrets hold values."
  type = map(object({
    display_name = string
    time_zone    = string
  }))
  default = {}

  validation {
    # ServiceTitan's tenant ids are int64s; the id also names the tenant's secrets.
    condition     = alltrue([for id, t in var.tenants : can(regex("^[1-9][0-9]{0,18}$", id)) && length(trimspace(t.display_name)) > 0])
    error_message = "tenants keys must be ServiceTitan's numeric tenant ids, each with a non-empty display_name."
  }

  validation {
    # The shape of a tz database name (Area/Location, or UTC); Cloud Scheduler refuses a
    # name it does not know at apply (docs/DEPLOY.md: what only the cloud checks).
    condition     = alltrue([for id, t in var.tenants : can(regex("^(UTC|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2})$", t.time_zone))])
    error_message = "each tenant's time_zone must be an IANA time zone name such as America/New_York or UTC."
  }
}

# --- Functions ----------------------------------------------------------------------------

variable "python_runtime" {
  description = "Cloud Functions Python runtime."
  type        = string
  default     = "python312"

  validation {
    condition     = contains(["python311", "python312", "python313"], var.python_runtime)
    error_message = "python_runtime must be python311, python312 or python313 (the project needs Python >= 3.11)."
  }
}

variable "fetch_timeout_seconds" {
  description = "fetch_window timeout. At most 600: the push subscription's ack deadline caps how long Pub/Sub waits for one delivery."
  type        = number
  default     = 540

  validation {
    condition     = var.fetch_timeout_seconds >= 60 && var.fetch_timeout_seconds <= 600
    error_message = "fetch_timeout_seconds must be in 60..600."
  }
}

variable "fetch_time_budget_seconds" {
  description = "Seconds a fetch works before it saves its progress and republishes the rest of its window (FETCH_TIME_BUDGET_SECONDS). Must leave headroom under fetch_timeout_seconds for the last page (the API may take 100 s) and the publish."
  type        = number
  default     = 400

  validation {
    condition     = var.fetch_time_budget_seconds >= 30 && var.fetch_time_budget_seconds <= var.fetch_timeout_seconds - 120
    error_message = "fetch_time_budget_seconds must be >= 30 and at least 120 s below fetch_timeout_seconds."
  }
}

variable "load_max_instances" {
  description = "Max concurrent load_batch instances (concurrent MERGEs into one table retry on serialization errors)."
  type        = number
  default     = 10

  validation {
    condition     = var.load_max_instances >= 1 && var.load_max_instances <= 100
    error_message = "load_max_instances must be in 1..100."
  }
}

# --- Pub/Sub ------------------------------------------------------------------------------

variable "max_delivery_attempts" {
  description = "Deliveries of one message before Pub/Sub moves it to the topic's dead-letter topic (5..100)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be in 5..100 (Pub/Sub's bounds)."
  }
}

variable "name_prefix" {
  description = "Prefix of every name that must be unique in the project: topics and subscriptions, functions, service accounts, secrets, Scheduler jobs, log metrics, buckets and (with '_' for '-') datasets. Set it for a second deployment in the same project; the local test suite uses it to share one set of emulators."
  type        = string
  default     = ""

  validation {
    # At most 10 characters: a push invoker's service-account id is the prefix plus up to
    # 20 characters ("st-rebuild-dims-push"), and Google allows 30.
    condition     = can(regex("^([a-z][a-z0-9-]{0,9})?$", var.name_prefix))
    error_message = "name_prefix must be empty or 1-10 characters: a letter, then a-z, 0-9 and -."
  }
}

variable "retry_minimum_backoff_seconds" {
  description = "Pub/Sub retry policy of the push subscriptions: first backoff after a failed delivery, seconds."
  type        = number
  default     = 10

  validation {
    condition     = var.retry_minimum_backoff_seconds >= 0 && var.retry_minimum_backoff_seconds <= 600
    error_message = "retry_minimum_backoff_seconds must be in 0..600 (Pub/Sub's bounds)."
  }
}

variable "retry_maximum_backoff_seconds" {
  description = "Pub/Sub retry policy of the push subscriptions: largest backoff, seconds."
  type        = number
  default     = 600

  validation {
    condition     = var.retry_maximum_backoff_seconds >= 0 && var.retry_maximum_backoff_seconds <= 600
    error_message = "retry_maximum_backoff_seconds must be in 0..600 (Pub/Sub's bounds)."
  }
}

variable "operator_members" {
  description = "IAM members who run the stkpi CLI against this deployment (e.g. [\"user:ops@example.com\", \"group:data@example.com\"]): publish plans, read dead letters, query the datasets, read the landing bucket."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.operator_members : can(regex("^(user|group|serviceAccount|domain):", m))])
    error_message = "operator_members must be IAM member strings such as user:ops@example.com."
  }
}

# --- Storage and BigQuery -----------------------------------------------------------------

variable "landing_bucket_name" {
  description = "Landing bucket name; empty = \"<project_id>-st-landing\"."
  type        = string
  default     = ""

  validation {
    condition     = var.landing_bucket_name == "" || can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.landing_bucket_name))
    error_message = "landing_bucket_name must be a valid bucket name (3-63 chars, lowercase letters, digits, '.', '_', '-')."
  }
}

variable "landing_nearline_after_days" {
  description = "Age in days after which landing pages move to NEARLINE (0 = never)."
  type        = number
  default     = 30

  validation {
    condition     = var.landing_nearline_after_days >= 0
    error_message = "landing_nearline_after_days must be >= 0."
  }
}

variable "landing_delete_after_days" {
  description = "Age in days after which landing pages are deleted (raw in BigQuery is the system of record; pages only serve replays)."
  type        = number
  default     = 90

  validation {
    condition     = var.landing_delete_after_days >= 1 && var.landing_delete_after_days > var.landing_nearline_after_days
    error_message = "landing_delete_after_days must be >= 1 and greater than landing_nearline_after_days."
  }
}

variable "bq_location" {
  description = "BigQuery location of every dataset (BQ_LOCATION)."
  type        = string
  default     = "US"

  validation {
    condition     = length(var.bq_location) > 1
    error_message = "bq_location must be a BigQuery location such as US, EU or us-central1."
  }
}

variable "bq_dataset_prefix" {
  description = "Dataset prefix (BQ_DATASET_PREFIX): datasets are <prefix>_raw, _stage, _dim, _mart, _ops. Empty = name_prefix with '_' for '-', then \"st\" (st_raw, ... for a first deployment)."
  type        = string
  default     = ""

  validation {
    condition     = var.bq_dataset_prefix == "" || can(regex("^[A-Za-z_][A-Za-z0-9_]{0,1000}$", var.bq_dataset_prefix))
    error_message = "bq_dataset_prefix must be empty, or start with a letter or '_' and hold only letters, digits, '_'."
  }
}

variable "stage_table_expiration_hours" {
  description = "Default expiration of the per-window staging tables in the stage dataset, hours."
  type        = number
  default     = 48

  validation {
    condition     = var.stage_table_expiration_hours >= 1
    error_message = "stage_table_expiration_hours must be >= 1 (BigQuery's minimum is one hour)."
  }
}

variable "deletion_protection" {
  description = "Protect BigQuery tables and the landing bucket from terraform destroy."
  type        = bool
  default     = true
}

# --- Schedules (America/Phoenix for the default tenant, each added tenant's own zone for its
# jobs; see scheduler.tf) -----------------------------------------------------------------

variable "daily_schedule" {
  description = "Cron (America/Phoenix) of the daily incremental sync."
  type        = string
  default     = "0 2 * * *"

  validation {
    condition     = length(split(" ", var.daily_schedule)) == 5
    error_message = "daily_schedule must be a 5-field cron expression."
  }
}

variable "reference_schedule" {
  description = "Cron (America/Phoenix) of the weekly reference refresh (business units, technicians, ...)."
  type        = string
  default     = "0 1 * * 1"

  validation {
    condition     = length(split(" ", var.reference_schedule)) == 5
    error_message = "reference_schedule must be a 5-field cron expression."
  }
}

variable "validation_schedule" {
  description = "Cron (America/Phoenix) of the daily validation, after the daily sync has had time to finish."
  type        = string
  default     = "0 7 * * *"

  validation {
    condition     = length(split(" ", var.validation_schedule)) == 5
    error_message = "validation_schedule must be a 5-field cron expression."
  }
}

variable "deletes_schedule" {
  description = "Cron (America/Phoenix) of the weekly key scan that finds records hard-deleted in ServiceTitan (stkpi deletes)."
  type        = string
  default     = "0 3 * * 0"

  validation {
    condition     = length(split(" ", var.deletes_schedule)) == 5
    error_message = "deletes_schedule must be a 5-field cron expression."
  }
}

variable "delete_guard_share" {
  description = "A key scan that would mark more than this share of an entity deleted in one go marks nothing and turns validation RED (a revoked scope or a truncated answer must never wipe the warehouse)."
  type        = number
  default     = 0.02

  validation {
    condition     = var.delete_guard_share > 0 && var.delete_guard_share <= 1
    error_message = "delete_guard_share must be in (0, 1]."
  }
}

# --- Alerting -----------------------------------------------------------------------------

variable "alert_email" {
  description = "Email that receives alert notifications; empty = alerts only show in the console."
  type        = string
  default     = ""

  validation {
    condition     = var.alert_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be empty or an email address."
  }
}

variable "function_error_rate_threshold" {
  description = "Share of failed (5xx) deliveries per function over 10 minutes that raises the error-rate alert."
  type        = number
  default     = 0.1

  validation {
    condition     = var.function_error_rate_threshold > 0 && var.function_error_rate_threshold < 1
    error_message = "function_error_rate_threshold must be in (0, 1)."
  }
}
