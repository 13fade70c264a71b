# Genesys Cloud's CX as Code provider, pinned: tests/src/contract/terraform.rs records
# the schema of this version, and the module is checked against it in CI.
terraform {
  required_version = ">= 1.5.0"
  required_providers {
    genesyscloud = {
      source  = "mypurecloud/genesyscloud"
      version = "= 1.84.1"
    }
  }
}

# The org's credentials come from GENESYSCLOUD_OAUTHCLIENT_ID and
# GENESYSCLOUD_OAUTHCLIENT_SECRET, never from a file here.
provider "genesyscloud" {
  aws_region = var.genesys_region
}
