# The fleet's OAuth client (the stack's GENESYS_SECRET_ID) and one role per feature,
# each granting exactly the permissions docs/deploy.md lists for it ("Genesys: main
# OAuth client"); tests/tests/cx_as_code.rs checks the two agree. A feature that is off
# creates no role, so its permissions are not granted.
# Genesys requires the client running Terraform to hold these roles itself.

resource "genesyscloud_auth_role" "status_board" {
  count       = var.status_board ? 1 : 0
  name        = "${var.name_prefix} status board"
  description = "queue-metrics reads queue observations for the status board"
  permission_policies {
    domain      = "analytics"
    entity_name = "queueObservation"
    action_set  = ["view"]
  }
}

resource "genesyscloud_auth_role" "campaign_pause" {
  count       = var.campaign_pause ? 1 : 0
  name        = "${var.name_prefix} campaign pause"
  description = "outage-actions pauses and resumes outbound campaigns while a dependency is down"
  permission_policies {
    domain      = "outbound"
    entity_name = "campaign"
    action_set  = ["view", "edit"]
  }
  permission_policies {
    domain      = "outbound"
    entity_name = "messagingCampaign"
    action_set  = ["view", "edit"]
  }
}

resource "genesyscloud_auth_role" "regional_overflow" {
  count       = var.regional_overflow ? 1 : 0
  name        = "${var.name_prefix} regional overflow"
  description = "outage-actions and the CLI read and switch the emergency group"
  permission_policies {
    domain      = "routing"
    entity_name = "emergencyGroup"
    action_set  = ["view", "edit"]
  }
}

locals {
  # The campaign pause's grant, once per division of its campaigns ("" is the home one).
  campaign_divisions = length(var.campaign_division_ids) > 0 ? var.campaign_division_ids : [""]
}

resource "genesyscloud_oauth_client" "fleet" {
  name                  = "${var.name_prefix} fleet"
  description           = "Failsoft's functions and CLI (GENESYS_SECRET_ID); managed by Terraform"
  authorized_grant_type = "CLIENT-CREDENTIALS"
  # The secret goes to Secrets Manager from the output fleet_client_secret_json; it is in
  # the Terraform state too, so keep the state encrypted.
  expose_client_secret = true

  dynamic "roles" {
    for_each = genesyscloud_auth_role.status_board
    content {
      role_id = roles.value.id
    }
  }

  dynamic "roles" {
    for_each = var.campaign_pause ? local.campaign_divisions : []
    content {
      role_id     = genesyscloud_auth_role.campaign_pause[0].id
      division_id = roles.value == "" ? null : roles.value
    }
  }

  dynamic "roles" {
    for_each = genesyscloud_auth_role.regional_overflow
    content {
      role_id = roles.value.id
    }
  }
}
