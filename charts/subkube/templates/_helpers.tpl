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
