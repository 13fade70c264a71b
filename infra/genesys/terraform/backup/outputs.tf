# What the stack needs back: BackupFlowName and the readiness client's secret.

output "backup_flow_name" {
  description = "The stack parameter BackupFlowName."
  value       = var.backup_flow_name
}

output "readiness_client_secret_json" {
  description = "The read-only client's credentials, as BACKUP_GENESYS_SECRET_ID's secret holds them."
  value = jsonencode({
    client_id     = genesyscloud_oauth_client.readiness.client_id
    client_secret = genesyscloud_oauth_client.readiness.client_secret
  })
  sensitive = true
}
