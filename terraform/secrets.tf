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

# Each added tenant's own credentials (docs/TENANTS.md): one entry of var.tenants creates its
# client id, client secret and app key as secrets of their own, named
# <name_prefix>st-t<tenant id>-<credential> (what `stkpi tenant add` reads by default), and
# iam.tf lets only the functions that call ServiceTitan read them, secret by secret. The
# tenant id itself is no secret: it is in every request's path and in the tenant registry.
locals {
  tenant_secret_suffixes = {
    ST_CLIENT_ID     = "client-id"
    ST_CLIENT_SECRET = "client-secret"
    ST_APP_KEY       = "app-key"
  }

  # "<tenant id>/<credential>" -> the tenant, the credential and its secret's id
  tenant_secrets = merge([
    for tenant, _ in var.tenants : {
      for env, suffix in local.tenant_secret_suffixes : "${tenant}/${env}" => {
        tenant    = tenant
        env       = env
        secret_id = "${local.prefix}st-t${tenant}-${suffix}"
      }
    }
  ]...)
}

resource "google_secret_manager_secret" "tenant" {
  #checkov:skip=CKV_GCP_125:Google-managed encryption; a CMEK key would be this project's only KMS dependency.
  for_each = local.tenant_secrets

  secret_id = each.value.secret_id

  replication {
    auto {}
  }

  labels = {
    env-var = lower(replace(each.value.env, "_", "-"))
    tenant  = each.value.tenant
  }

  depends_on = [google_project_service.apis]
}
