terraform {
  required_version = ">= 1.6"

  required_providers {
    # 6.43: fetch_secret_data on data.google_secret_manager_secret_version (secrets.tf).
    google = {
      source  = "hashicorp/google"
      version = "~> 6.43"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.43"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
    # time_sleep: the waits for API enablement and IAM propagation (bootstrap.tf, iam.tf).
    time = {
      source  = "hashicorp/time"
      version = "~> 0.12"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}
