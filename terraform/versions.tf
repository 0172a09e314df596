terraform {
  # 1.9+: variable validations may refer to other variables (fetch timeout vs. budget).
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.20"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
    # time_sleep: the alert policies wait for their new log-based metrics (monitoring.tf).
    time = {
      source  = "hashicorp/time"
      version = "~> 0.12"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = merge({ app = "st-kpi", managed-by = "terraform" }, var.labels)
}
