# The simplified flow (no Data Actions), the IVR configuration that routes the backup
# numbers to it, and the read-only client the backup region's readiness check uses
# (BACKUP_GENESYS_SECRET_ID): exactly the permissions docs/deploy.md lists for it.

resource "genesyscloud_flow" "backup" {
  filepath = "${path.module}/../../flows/backup.yaml"
  substitutions = {
    flow_name     = var.backup_flow_name
    division_name = var.division_name
    queue_name    = var.queue_name
  }
}

resource "genesyscloud_architect_ivr" "backup" {
  count              = length(var.backup_dids) > 0 ? 1 : 0
  name               = "${var.name_prefix} backup numbers"
  description        = "Routes the backup DIDs to the simplified flow; Failsoft's readiness checks it"
  dnis               = var.backup_dids
  open_hours_flow_id = genesyscloud_flow.backup.id
}

resource "genesyscloud_auth_role" "readiness" {
  name        = "${var.name_prefix} backup readiness"
  description = "Failsoft reads that the backup flow is published and each backup DID routes to a flow"
  permission_policies {
    domain      = "architect"
    entity_name = "flow"
    action_set  = ["view"]
  }
  permission_policies {
    domain      = "routing"
    entity_name = "callRoute"
    action_set  = ["view"]
  }
}

resource "genesyscloud_oauth_client" "readiness" {
  name                  = "${var.name_prefix} backup readiness"
  description           = "Failsoft's read-only client in the backup org (BACKUP_GENESYS_SECRET_ID); managed by Terraform"
  authorized_grant_type = "CLIENT-CREDENTIALS"
  expose_client_secret  = true
  roles {
    role_id = genesyscloud_auth_role.readiness.id
  }
}
