variable "name" {
  description = "Name of the vcluster (the Helm release)."
  type        = string
}

variable "namespace" {
  description = "Host namespace the vcluster lives in."
  type        = string
}

variable "create_namespace" {
  description = "Create the namespace if it does not exist."
  type        = bool
  default     = true
}

variable "values" {
  description = "subkube.yaml settings (same schema as the chart's values), as an object."
  type        = any
  default     = {}
}

variable "values_files" {
  description = "Paths of subkube.yaml files, applied before `values`."
  type        = list(string)
  default     = []
}

variable "chart_path" {
  description = "Path of the subkube chart (relative paths are taken from where Terraform runs); null: the chart beside this module."
  type        = string
  default     = null
}

variable "timeout" {
  description = "Seconds Helm waits for the release."
  type        = number
  default     = 300
}
