{{- define "subkube.name" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "subkube.labels" -}}
app.kubernetes.io/name: subkube
app.kubernetes.io/instance: {{ include "subkube.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
subkube.io/vcluster: {{ include "subkube.name" . }}
{{- end -}}

{{- define "subkube.selector" -}}
app.kubernetes.io/name: subkube
app.kubernetes.io/instance: {{ include "subkube.name" . }}
{{- end -}}

{{/* A ClusterRole only for features that read or write cluster-scoped host objects. */}}
{{- define "subkube.needsClusterRole" -}}
{{- $from := .Values.sync.fromHost -}}
{{- $to := .Values.sync.toHost -}}
{{- if or $from.nodes.enabled $from.storageClasses.enabled $from.ingressClasses.enabled $from.priorityClasses.enabled $from.runtimeClasses.enabled $to.storageClasses.enabled $to.priorityClasses.enabled $to.persistentVolumes.enabled -}}
true
{{- end -}}
{{- end -}}
