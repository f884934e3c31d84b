{{/* The chart name, or nameOverride. */}}
{{- define "llmroute.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: fullnameOverride, else <release>-<chart> unless the release already holds the chart name. */}}
{{- define "llmroute.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The operator's objects are named <fullname>-operator. */}}
{{- define "llmroute.operator.fullname" -}}
{{- printf "%s-operator" (include "llmroute.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "llmroute.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard labels on every object. */}}
{{- define "llmroute.labels" -}}
helm.sh/chart: {{ include "llmroute.chart" . }}
{{ include "llmroute.operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: llmroute
{{- end }}

{{/* Selector labels: stable across upgrades (a Deployment's selector is immutable). */}}
{{- define "llmroute.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llmroute.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "llmroute.operator.selectorLabels" -}}
{{ include "llmroute.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The operator's ServiceAccount name. */}}
{{- define "llmroute.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "llmroute.operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference; the tag defaults to the chart's appVersion. */}}
{{- define "llmroute.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}

{{/* The Lease the operator replicas elect a leader with (fixed in operator/main.ts). */}}
{{- define "llmroute.leaseName" -}}
llmroute-operator
{{- end }}

{{/* The ConfigMap the operator writes in each namespace (fixed in operator/reconcile/configmap.ts). */}}
{{- define "llmroute.configMapName" -}}
llmroute-config
{{- end }}
