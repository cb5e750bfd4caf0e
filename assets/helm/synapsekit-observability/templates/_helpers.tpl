{{/* The namespace every resource goes to: .Values.namespace, else the release namespace. */}}
{{- define "synapsekit-observability.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{- define "synapsekit-observability.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "synapsekit-observability.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "synapsekit-observability.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The Secret holding Grafana's admin password: the user's, or the one this chart generates. */}}
{{- define "synapsekit-observability.grafanaSecretName" -}}
{{- if .Values.grafana.admin.existingSecret -}}
{{- .Values.grafana.admin.existingSecret -}}
{{- else -}}
{{- printf "%s-grafana-admin" (include "synapsekit-observability.fullname" .) -}}
{{- end -}}
{{- end -}}
