# Installs one vcluster with the subkube Helm chart through Terraform's Helm provider.
# Configure the provider (kubeconfig, context) in the root module that uses this one.

locals {
  # The provider resolves a local chart path from the directory Terraform runs in, not from
  # this module: the default is anchored at the module so any root module finds the chart.
  chart = coalesce(var.chart_path, "${path.module}/../../charts/subkube")
}

resource "helm_release" "vcluster" {
  name             = var.name
  namespace        = var.namespace
  create_namespace = var.create_namespace
  chart            = local.chart
  timeout          = var.timeout
  wait             = true

  values = concat(
    [for f in var.values_files : file(f)],
    [yamlencode(var.values)],
  )
}
