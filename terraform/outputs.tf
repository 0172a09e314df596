# Outputs: names and ids only; nothing here is, or is derived from, a secret value.

output "region" {
  description = "Region of the functions and Scheduler jobs (`gcloud scheduler jobs run NAME --location REGION`)."
  value       = var.region
}

output "landing_bucket" {
  description = "Landing bucket (LANDING_BUCKET)."
  value       = google_storage_bucket.landing.name
}

output "datasets" {
  description = "BigQuery dataset ids by layer."
  value       = { for layer, ds in google_bigquery_dataset.layer : layer => ds.dataset_id }
}

output "topics" {
  description = "Pub/Sub topic names (publish a plan message to topics.plan to start a run)."
  value       = { for k, t in google_pubsub_topic.main : k => t.name }
}

output "dead_letter_subscriptions" {
  description = "Pull subscriptions holding dead letters, by source topic."
  value       = { for k, s in google_pubsub_subscription.dead_letter : k => s.name }
}

output "functions" {
  description = "Function names and their internal-only URLs."
  value       = { for k, f in google_cloudfunctions2_function.fn : k => { name = f.name, uri = f.service_config[0].uri } }
}

output "function_service_accounts" {
  description = "Runtime service account of each function."
  value       = { for k, sa in google_service_account.fn : k => sa.email }
}

output "fetch_max_instances" {
  description = "fetch_window max instances, derived from the tenant's rate limit."
  value       = local.fetch_max_instances
}

output "secret_ids" {
  description = "Secret Manager secrets to fill with `gcloud secrets versions add` (ids only, never values)."
  value       = { for k, s in google_secret_manager_secret.st : k => s.secret_id }
}

output "tenant_secret_ids" {
  description = "Each added tenant's secrets, by \"<tenant id>/<credential>\" (ids only, never values): fill them with `gcloud secrets versions add`, then `stkpi tenant add`."
  value       = { for k, s in google_secret_manager_secret.tenant : k => s.secret_id }
}

output "scheduler_jobs" {
  description = "Cloud Scheduler jobs (force one with `gcloud scheduler jobs run NAME --location REGION`)."
  value       = [for j in google_cloud_scheduler_job.job : j.name]
}

output "operator_env" {
  description = "The non-secret settings the stkpi CLI needs to run against this deployment (`terraform output -json operator_env`; docs/DEPLOY.md): project, bucket, datasets, topic and dead-letter names."
  value       = { for k, v in local.common_env : k => v if !contains(["LOG_EXECUTION_ID", "PYTHONUNBUFFERED"], k) }
}
