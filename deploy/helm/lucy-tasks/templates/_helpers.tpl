{{/* Chart name. */}}
{{- define "lucy.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of a release resource. */}}
{{- define "lucy.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Common labels. */}}
{{- define "lucy.labels" -}}
app.kubernetes.io/name: {{ include "lucy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Image reference. */}}
{{- define "lucy.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{/* Name of the Secret with DATABASE_URL and RPC_TOKEN. */}}
{{- define "lucy.secretName" -}}
{{- default (printf "%s-secrets" (include "lucy.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* JSON array of the base URLs of every enabled service, for the helm test pod. */}}
{{- define "lucy.testTargets" -}}
{{- $urls := list -}}
{{- range $name, $svc := .Values.services -}}
{{- if $svc.enabled -}}
{{- $urls = append $urls (printf "http://%s-%s:%v" (include "lucy.fullname" $) $name $svc.port) -}}
{{- end -}}
{{- end -}}
{{- $urls | toJson -}}
{{- end -}}
