# Inputs: the first group comes from `sam deploy`'s outputs and parameters; the rest
# choose the features, as the stack's parameters do.

variable "genesys_region" {
  type        = string
  description = "The AWS region of the Genesys org, e.g. us-east-1 (the provider's aws_region)."
}

variable "genesys_org_id" {
  type        = string
  description = "The Genesys org ID: the stack's GenesysOrgId parameter. Names the EventBridge partner source."
}

variable "crm_lookup_function_arn" {
  type        = string
  description = "The stack output CrmLookupFunctionArn: the function the Data Action invokes."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:", var.crm_lookup_function_arn))
    error_message = "Give the stack output CrmLookupFunctionArn (arn:aws:lambda:<region>:<account>:function:<name>)."
  }
}

variable "genesys_invoke_role_arn" {
  type        = string
  description = "The stack output GenesysInvokeRoleArn: the role Genesys assumes to invoke crm-lookup."
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.genesys_invoke_role_arn))
    error_message = "Give the stack output GenesysInvokeRoleArn (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every name this module gives in Genesys Cloud."
  default     = "Failsoft"
}

variable "division_name" {
  type        = string
  description = "The division the flows are published in."
  default     = "Home"
}

variable "inbound_flow_name" {
  type        = string
  description = "Name of the inbound call flow around the CRM lookup."
  default     = "Failsoft inbound"
}

variable "vip_queue_name" {
  type        = string
  description = "The queue VIP callers are transferred to (it must exist)."
  default     = "VIP Queue"
}

variable "support_queue_name" {
  type        = string
  description = "The standard queue: every caller who is not routed as VIP, and every failed lookup (it must exist)."
  default     = "Support Queue"
}

variable "vip_tier" {
  type        = string
  description = "The accountTier that routes to the VIP queue: the tier CrmTierMap maps VIP accounts to."
  default     = "vip"
}

variable "status_board" {
  type        = bool
  description = "Grant the fleet's client what the status board (queue-metrics) reads."
  default     = true
}

variable "campaign_pause" {
  type        = bool
  description = "Grant the fleet's client the campaign pause (the stack's CampaignPauseOn)."
  default     = false
}

variable "campaign_division_ids" {
  type        = list(string)
  description = "The divisions of the campaigns the pause may touch (the stack's CampaignDivisionIds); empty: the home division."
  default     = []
}

variable "regional_overflow" {
  type        = bool
  description = "Create the emergency flow and group, and grant the fleet's client the overflow switch."
  default     = false
}

variable "overflow_ivr_ids" {
  type        = list(string)
  description = "The IVR configurations that overflow to the emergency flow when the group is enabled."
  default     = []
}

variable "backup_did" {
  type        = string
  description = "The backup region's number the emergency flow transfers to, in E.164 (one of the stack's BackupDids)."
  default     = ""
  validation {
    condition     = var.backup_did == "" || can(regex("^\\+[1-9][0-9]{6,14}$", var.backup_did))
    error_message = "backup_did must be an E.164 number, e.g. +61290000000."
  }
}

variable "emergency_flow_name" {
  type        = string
  description = "Name of the emergency flow the overflow sends callers through."
  default     = "Failsoft emergency"
}

variable "writeback_events" {
  type        = bool
  description = "Create the EventBridge integration that sends after-call work to the stack's write-back."
  default     = true
}

variable "aws_account_id" {
  type        = string
  description = "The AWS account of the stack: where Genesys creates the partner event source."
  default     = ""
  validation {
    condition     = var.aws_account_id == "" || can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id is the 12-digit account of the stack."
  }
}

variable "aws_region" {
  type        = string
  description = "The AWS region of the stack (the same as the Genesys org's)."
  default     = ""
}

variable "event_source_suffix" {
  type        = string
  description = "Suffix of the partner event source: aws.partner/genesys.com/cloud/<org id>/<suffix>."
  default     = "failsoft-acw"
  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,64}$", var.event_source_suffix))
    error_message = "At most 64 letters, digits, '.', '-' or '_'."
  }
}
