# Installs one vcluster with the subkube Helm chart through Terraform's Helm provider.
# Configure the provider (kubeconfig, context) in the root module that uses this one.

resource "helm_release" "vcluster" {
  name             = var.name
  namespace        = var.namespace
  create_namespace = var.create_namespace
  chart            = var.chart_path
  timeout          = var.timeout
  wait             = true

  values = concat(
    [for f in var.values_files : file(f)],
    [yamlencode(var.values)],
  )
}
