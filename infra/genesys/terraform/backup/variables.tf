# Inputs of the backup org's side; backup_flow_name and backup_dids are also the stack's
# BackupFlowName and BackupDids.

variable "genesys_region" {
  type        = string
  description = "The AWS region of the backup Genesys org (the provider's aws_region)."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every name this module gives in Genesys Cloud."
  default     = "Failsoft"
}

variable "division_name" {
  type        = string
  description = "The division the flow is published in."
  default     = "Home"
}

variable "backup_flow_name" {
  type        = string
  description = "Name of the simplified inbound flow: the stack's BackupFlowName."
  default     = "Failsoft backup inbound"
}

variable "queue_name" {
  type        = string
  description = "The backup org's queue the flow transfers every caller to (it must exist)."
}

variable "backup_dids" {
  type        = list(string)
  description = "The backup numbers (the stack's BackupDids), in E.164: routed to the flow by one IVR configuration. Empty: route them yourself."
  default     = []
  validation {
    condition     = alltrue([for d in var.backup_dids : can(regex("^\\+[1-9][0-9]{6,14}$", d))])
    error_message = "Each backup DID is an E.164 number, e.g. +61290000000."
  }
}
