# What the stack and `failsoft doctor` need back from this module.

output "data_action_id" {
  description = "The CRM lookup Data Action."
  value       = genesyscloud_integration_action.crm_lookup.id
}

output "inbound_flow_id" {
  description = "The inbound call flow: route the numbers to it (an IVR configuration)."
  value       = genesyscloud_flow.inbound.id
}

output "fleet_client_secret_json" {
  description = "The fleet's client credentials, as GENESYS_SECRET_ID's secret holds them."
  value = jsonencode({
    client_id     = genesyscloud_oauth_client.fleet.client_id
    client_secret = genesyscloud_oauth_client.fleet.client_secret
  })
  sensitive = true
}

output "emergency_group_id" {
  description = "The stack parameter OverflowEmergencyGroupId (empty when regional_overflow is off)."
  # A splat, not [0]: Terraform evaluates both branches of a conditional.
  value = join("", genesyscloud_architect_emergencygroup.overflow[*].id)
}

output "event_source_name" {
  description = "The stack parameter GenesysEventSourceName (empty when writeback_events is off)."
  value       = var.writeback_events ? "aws.partner/genesys.com/cloud/${var.genesys_org_id}/${var.event_source_suffix}" : ""
}
