{{/* Generated from subkube.syncer.registry by `python -m subkube.chart charts/subkube`;
     edit the registry, not this file. */}}
{{- define "subkube.hostRules" -}}
- apiGroups: [""]
  resources: [services]
  verbs: [get, create]
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get, create]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, update]
{{- if .Values.sync.toHost.pods.enabled }}
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: [""]
  resources: [pods/exec, pods/attach, pods/portforward]
  verbs: [get, create]
{{- end }}
{{- if .Values.sync.toHost.services.enabled }}
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if .Values.sync.toHost.endpoints.enabled }}
- apiGroups: [""]
  resources: [endpoints]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if .Values.sync.toHost.persistentVolumeClaims.enabled }}
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if .Values.sync.toHost.configMaps.enabled }}
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if .Values.sync.toHost.secrets.enabled }}
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if .Values.sync.toHost.networkPolicies.enabled }}
- apiGroups: ["networking.k8s.io"]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if .Values.sync.toHost.ingresses.enabled }}
- apiGroups: ["networking.k8s.io"]
  resources: [ingresses]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if .Values.sync.toHost.serviceAccounts.enabled }}
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if .Values.sync.toHost.podDisruptionBudgets.enabled }}
- apiGroups: ["policy"]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if .Values.sync.fromHost.events.enabled }}
- apiGroups: [""]
  resources: [events]
  verbs: [get, list, watch]
{{- end }}
{{- range $name, $entry := .Values.sync.toHost.customResources }}
{{- if $entry.enabled }}
{{- $resource := splitn "." 2 $name }}
- apiGroups: [{{ $resource._1 | quote }}]
  resources: [{{ $resource._0 | quote }}]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- end }}
{{- range $name, $entry := .Values.sync.fromHost.customResources }}
{{- if and $entry.enabled (eq (default "" $entry.scope) "Namespaced") }}
{{- $resource := splitn "." 2 $name }}
- apiGroups: [{{ $resource._1 | quote }}]
  resources: [{{ $resource._0 | quote }}]
  verbs: [get, list, watch]
{{- end }}
{{- end }}
{{- end -}}
{{- define "subkube.clusterRules" -}}
{{- if .Values.sync.toHost.priorityClasses.enabled }}
- apiGroups: ["scheduling.k8s.io"]
  resources: [priorityclasses]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if .Values.sync.toHost.storageClasses.enabled }}
- apiGroups: ["storage.k8s.io"]
  resources: [storageclasses]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if .Values.sync.toHost.persistentVolumes.enabled }}
- apiGroups: [""]
  resources: [persistentvolumes]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if and .Values.sync.toHost.pods.enabled .Values.sync.fromHost.nodes.enabled }}
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [nodes/proxy]
  verbs: [get]
{{- end }}
{{- if and .Values.sync.fromHost.nodes.enabled .Values.sync.fromHost.nodes.syncBackChanges }}
- apiGroups: [""]
  resources: [nodes]
  verbs: [patch]
{{- end }}
{{- if .Values.sync.fromHost.storageClasses.enabled }}
- apiGroups: ["storage.k8s.io"]
  resources: [storageclasses]
  verbs: [get, list, watch]
{{- end }}
{{- if .Values.sync.fromHost.ingressClasses.enabled }}
- apiGroups: ["networking.k8s.io"]
  resources: [ingressclasses]
  verbs: [get, list, watch]
{{- end }}
{{- if .Values.sync.fromHost.priorityClasses.enabled }}
- apiGroups: ["scheduling.k8s.io"]
  resources: [priorityclasses]
  verbs: [get, list, watch]
{{- end }}
{{- if .Values.sync.fromHost.runtimeClasses.enabled }}
- apiGroups: ["node.k8s.io"]
  resources: [runtimeclasses]
  verbs: [get, list, watch]
{{- end }}
{{- range $name, $entry := .Values.sync.toHost.customResources }}
{{- if $entry.enabled }}
- apiGroups: ["apiextensions.k8s.io"]
  resources: [customresourcedefinitions]
  verbs: [get]
  resourceNames: [{{ $name | quote }}]
{{- end }}
{{- end }}
{{- range $name, $entry := .Values.sync.fromHost.customResources }}
{{- if and $entry.enabled (eq (default "" $entry.scope) "Namespaced") }}
- apiGroups: ["apiextensions.k8s.io"]
  resources: [customresourcedefinitions]
  verbs: [get]
  resourceNames: [{{ $name | quote }}]
{{- end }}
{{- end }}
{{- range $name, $entry := .Values.sync.fromHost.customResources }}
{{- if and $entry.enabled (eq (default "" $entry.scope) "Cluster") }}
{{- $resource := splitn "." 2 $name }}
- apiGroups: [{{ $resource._1 | quote }}]
  resources: [{{ $resource._0 | quote }}]
  verbs: [get, list, watch]
- apiGroups: ["apiextensions.k8s.io"]
  resources: [customresourcedefinitions]
  verbs: [get]
  resourceNames: [{{ $name | quote }}]
{{- end }}
{{- end }}
{{- end -}}
