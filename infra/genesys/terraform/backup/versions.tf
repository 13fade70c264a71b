# The backup org's side, applied with the backup org's credentials
# (GENESYSCLOUD_OAUTHCLIENT_ID/SECRET of that org). The same pinned provider as ../.
terraform {
  required_version = ">= 1.5.0"
  required_providers {
    genesyscloud = {
      source  = "mypurecloud/genesyscloud"
      version = "= 1.84.1"
    }
  }
}

provider "genesyscloud" {
  aws_region = var.genesys_region
}
