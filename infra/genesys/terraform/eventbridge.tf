# The after-call work to the stack's write-back: Genesys creates the partner event source
# aws.partner/genesys.com/cloud/<org id>/<suffix> in the stack's account, for the one
# topic the stack's WritebackRule matches. The stack's bus can only be created once the
# source exists, so the first deploy passes the output event_source_name to
# `sam deploy` (GenesysEventSourceName) after this apply.

resource "genesyscloud_integration" "eventbridge" {
  count            = var.writeback_events ? 1 : 0
  intended_state   = "ENABLED"
  integration_type = "amazon-eventbridge-source"
  config {
    name = "${var.name_prefix} after-call work"
    properties = jsonencode({
      awsAccountId      = var.aws_account_id
      awsAccountRegion  = var.aws_region
      eventSourceSuffix = var.event_source_suffix
      eventFilter       = ["v2.detail.events.conversation.{id}.acw"]
    })
    advanced = jsonencode({})
    notes    = "Failsoft's after-call write-back (managed by Terraform)"
  }

  lifecycle {
    precondition {
      condition     = var.aws_account_id != "" && var.aws_region != ""
      error_message = "writeback_events needs aws_account_id and aws_region (the stack's)."
    }
  }
}
