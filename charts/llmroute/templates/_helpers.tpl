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

{{/* A quantity from values as Kubernetes writes it: a whole number from a values file (a float to
  Helm) without the exponent Helm would print (268435456, not 2.68435456e+08). */}}
{{- define "llmroute.quantity" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- end }}

{{/* A quantity's value in base units (cores, bytes), as a float: for the checks below. */}}
{{- define "llmroute.quantityValue" -}}
{{- $q := include "llmroute.quantity" . -}}
{{- $number := regexFind "^[+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?" $q -}}
{{- $factors := dict "" 1.0 "m" 0.001 "k" 1000.0 "M" 1000000.0 "G" 1000000000.0 "T" 1000000000000.0 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 -}}
{{- mulf (float64 (trimPrefix "+" $number)) (get $factors (trimPrefix $number $q) | default 1.0) -}}
{{- end }}

{{/* The operator's --sidecar-* flags, checked as the operator checks them (operator/inject/
  sidecar-resources.ts): a mistake fails the install here rather than stopping every operator replica. */}}
{{- define "llmroute.sidecarResourceFlags" -}}
{{- $resources := .Values.injection.sidecarResources | default dict }}
{{- range $kind := list "cpu" "memory" }}
{{- $request := include "llmroute.quantity" (dig "requests" $kind "" $resources) }}
{{- $limit := include "llmroute.quantity" (dig "limits" $kind "" $resources) }}
{{- range $name, $q := dict "requests" $request "limits" $limit }}
{{- if and $q (le (include "llmroute.quantityValue" $q | float64) 0.0) }}
{{- fail (printf "injection.sidecarResources.%s.%s must be above zero" $name $kind) }}
{{- end }}
{{- end }}
{{- if and $request $limit (gt (include "llmroute.quantityValue" $request | float64) (mulf (include "llmroute.quantityValue" $limit | float64) 1.000001)) }}
{{- fail (printf "injection.sidecarResources.requests.%s (%s) is above limits.%s (%s)" $kind $request $kind $limit) }}
{{- end }}
{{- if and (eq $kind "memory") $limit (lt (include "llmroute.quantityValue" $limit | float64) 100663296.0) }}
{{- fail (printf "injection.sidecarResources.limits.memory (%s) is below the sidecar's minimum of 96Mi" $limit) }}
{{- end }}
- --sidecar-{{ $kind }}={{ $request }}
- --sidecar-{{ $kind }}-limit={{ $limit }}
{{- end }}
{{- end }}
