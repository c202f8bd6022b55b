output "name" {
  description = "The vcluster's name."
  value       = helm_release.vcluster.name
}

output "namespace" {
  description = "The host namespace."
  value       = helm_release.vcluster.namespace
}

output "service" {
  description = "The vcluster's API Service on the host (port 443)."
  value       = "${helm_release.vcluster.name}.${helm_release.vcluster.namespace}.svc"
}
