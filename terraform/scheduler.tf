# Cloud Scheduler jobs. The default tenant's run in America/Phoenix: the reporting zone,
# and one without DST, so "02:00" is the same instant all year. Each publishes one
# versioned JSON message.
#
# Each added tenant (var.tenants, docs/TENANTS.md) gets every schedule again, in ITS time
# zone (its 02:00 is its quiet night, whatever the deployment's zone), each message naming
# the tenant (`tenant_id`; absent = the default tenant). One job per tenant and schedule,
# not one job that fans out: each tenant's runs are seen, paused and forced on their own
# (`gcloud scheduler jobs pause|run ...-t<id>-daily-incremental`), and the tenant count
# stays far below Scheduler's jobs-per-project quota (4 jobs a tenant).
#
# Routing of the daily validation: it is a rebuild message on st-rebuild in validate mode:
#   {"v":1,"run_id":"validate-daily","entities":[],"mode":"validate"}
# It passes the RebuildMessage schema. rebuild_dims treats mode "validate" as "run the
# validations only" (sql/validations: freshness, volume drop, ...), writes
# st_ops.validation_results and logs one `validation` line per check (monitoring.tf),
# without rebuilding or recording a run. It runs on its own schedule, not after a run,
# precisely so that a daily sync that never happened still raises the freshness alert.

locals {
  schedule_time_zone = "America/Phoenix"

  schedules = {
    daily-incremental = {
      description = "Daily incremental sync of the transactional entities (plan -> windows -> loads -> rebuild)."
      schedule    = var.daily_schedule
      topic       = "plan"
      message     = { v = 1, run_type = "daily", entities = [] }
    }
    weekly-reference = {
      description = "Weekly full refresh of the reference entities (business units, technicians, job types, ...)."
      schedule    = var.reference_schedule
      topic       = "plan"
      message     = { v = 1, run_type = "reference", entities = [] }
    }
    weekly-deletes = {
      description = "Weekly key scan: every current key of the entities ServiceTitan hard-deletes, compared with raw (stkpi deletes; guarded, see DELETE_GUARD_SHARE)."
      schedule    = var.deletes_schedule
      topic       = "plan"
      message     = { v = 1, run_type = "deletes", entities = [] }
    }
    daily-validation = {
      description = "Daily validations (freshness, volume drop); see the routing note in scheduler.tf."
      schedule    = var.validation_schedule
      topic       = "rebuild"
      message     = { v = 1, run_id = "validate-daily", entities = [], mode = "validate" }
    }
  }

  # Every job: the default tenant's under their schedule's key (the addresses they always
  # had), each added tenant's under "<tenant id>/<schedule>", in the tenant's zone, its
  # message naming it.
  scheduler_jobs = merge(
    { for key, s in local.schedules : key => merge(s, { name = key, time_zone = local.schedule_time_zone }) },
    [
      for tenant, t in var.tenants : {
        for key, s in local.schedules : "${tenant}/${key}" => merge(s, {
          name        = "t${tenant}-${key}"
          description = "${s.description} Tenant ${tenant} (${t.display_name}), ${t.time_zone}."
          time_zone   = t.time_zone
          message     = merge(s.message, { tenant_id = tenant })
        })
      }
    ]...
  )
}

resource "google_cloud_scheduler_job" "job" {
  for_each = local.scheduler_jobs

  name        = "${local.prefix}st-kpi-${each.value.name}"
  description = each.value.description
  region      = var.region
  schedule    = each.value.schedule
  time_zone   = each.value.time_zone

  retry_config {
    retry_count          = 3
    min_backoff_duration = "30s"
    max_backoff_duration = "600s"
  }

  pubsub_target {
    topic_name = google_pubsub_topic.main[each.value.topic].id
    data       = base64encode(jsonencode(each.value.message))
  }

  depends_on = [google_project_service.apis]
}
