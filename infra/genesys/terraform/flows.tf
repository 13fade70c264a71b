# The Archy flows in ../flows, published with their names and queues filled in, and the
# emergency group the regional overflow switches.

resource "genesyscloud_flow" "inbound" {
  filepath = "${path.module}/../flows/inbound.yaml"
  substitutions = {
    flow_name          = var.inbound_flow_name
    division_name      = var.division_name
    integration_name   = genesyscloud_integration_action.crm_lookup.category
    data_action_name   = genesyscloud_integration_action.crm_lookup.name
    vip_tier           = var.vip_tier
    vip_queue_name     = var.vip_queue_name
    support_queue_name = var.support_queue_name
  }
}

resource "genesyscloud_flow" "emergency" {
  count    = var.regional_overflow ? 1 : 0
  filepath = "${path.module}/../flows/emergency.yaml"
  substitutions = {
    flow_name          = var.emergency_flow_name
    division_name      = var.division_name
    backup_did         = var.backup_did
    support_queue_name = var.support_queue_name
  }

  lifecycle {
    precondition {
      condition     = var.backup_did != ""
      error_message = "regional_overflow needs backup_did: the backup region's number the emergency flow transfers to."
    }
  }
}

resource "genesyscloud_architect_emergencygroup" "overflow" {
  count       = var.regional_overflow ? 1 : 0
  name        = "${var.name_prefix} regional overflow"
  description = "Switched by Failsoft (OVERFLOW_EMERGENCY_GROUP_ID) and by `failsoft overflow`"
  enabled     = false
  emergency_call_flows {
    emergency_flow_id = genesyscloud_flow.emergency[0].id
    ivr_ids           = var.overflow_ivr_ids
  }

  # Failsoft and people switch the group in an outage; an apply must not switch it back.
  lifecycle {
    ignore_changes = [enabled]
  }
}
