# The Lambda Data Actions integration, its credential (the role Genesys assumes) and the
# CRM lookup action. The action's contract and config are read from
# ../crm-lookup.data-action.json, the export a person imports by hand: one source of
# truth, which shared/tests/data_action_contract.rs checks against the function's answers.

locals {
  data_action      = jsondecode(file("${path.module}/../crm-lookup.data-action.json"))
  integration_name = "${var.name_prefix} Lambda Data Actions"
}

resource "genesyscloud_integration_credential" "lambda" {
  name                 = "${var.name_prefix} invoke role"
  credential_type_name = "amazonWebServicesARN"
  fields = {
    ARN = var.genesys_invoke_role_arn
  }
}

resource "genesyscloud_integration" "lambda" {
  intended_state   = "ENABLED"
  integration_type = local.data_action.integrationType
  config {
    name        = local.integration_name
    properties  = jsonencode({})
    advanced    = jsonencode({})
    # The credentials key Genesys's own module uses (GenesysCloudDevOps/integration-lambda-module).
    credentials = { AmazonWebServicesARN = genesyscloud_integration_credential.lambda.id }
    notes       = "Invokes Failsoft's crm-lookup (managed by Terraform)"
  }
}

resource "genesyscloud_integration_action" "crm_lookup" {
  name                   = local.data_action.name
  category               = local.integration_name
  integration_id         = genesyscloud_integration.lambda.id
  secure                 = local.data_action.secure
  config_timeout_seconds = local.data_action.config.timeoutSeconds
  contract_input         = jsonencode(local.data_action.contract.input.inputSchema)
  contract_output        = jsonencode(local.data_action.contract.output.successSchema)

  # The export's URL template is a placeholder for the function's ARN.
  config_request {
    request_url_template = var.crm_lookup_function_arn
    request_type         = local.data_action.config.request.requestType
    request_template     = local.data_action.config.request.requestTemplate
    headers              = local.data_action.config.request.headers
  }

  config_response {
    translation_map          = local.data_action.config.response.translationMap
    translation_map_defaults = local.data_action.config.response.translationMapDefaults
    success_template         = local.data_action.config.response.successTemplate
  }
}
