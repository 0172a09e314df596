# ServiceTitan credentials. Terraform creates the secrets (names, replication, access) but
# never a version: the values are added by the operator with
#   printf %s "$VALUE" | gcloud secrets versions add st-client-secret --data-file=-
# so no credential is ever in a variable, a plan, an output or the state file.
# fetch_window and rebuild_dims read version "latest" when a call needs it (stkpi.secrets,
# functions.tf): the apply needs no version to exist, and a rotated value is picked up
# within minutes without a redeploy.

resource "google_secret_manager_secret" "st" {
  #checkov:skip=CKV_GCP_125:Google-managed encryption; a CMEK key would be this project's only KMS dependency.
  for_each = local.st_secret_env

  secret_id = "${local.prefix}${each.value}"

  replication {
    auto {}
  }

  labels = {
    env-var = lower(replace(each.key, "_", "-"))
  }

  depends_on = [google_project_service.apis]
}
