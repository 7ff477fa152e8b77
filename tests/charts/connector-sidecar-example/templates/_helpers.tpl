{{- define "orders-processor.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The connector templates' parameters, built once. */}}
{{- define "orders-processor.connector" -}}
{{- dict "values" (index .Values "webhook-connect-connector") "name" (printf "%s-connector" (include "orders-processor.fullname" .)) "namespace" .Release.Namespace | toJson }}
{{- end }}
