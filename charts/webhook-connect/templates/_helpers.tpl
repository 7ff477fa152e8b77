{{/* Names: <release>-webhook-connect (or the release name when it already contains the chart name), 63 chars max. */}}
{{- define "wc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wc.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "wc.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's resource name: (dict "root" $ "component" "queue-manager") */}}
{{- define "wc.componentName" -}}
{{- printf "%s-%s" (include "wc.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wc.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "wc.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "wc.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: webhook-connect
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Names of the shared objects. */}}
{{- define "wc.authSecretName" -}}{{ include "wc.componentName" (dict "root" . "component" "auth") }}{{- end -}}
{{- define "wc.redisName" -}}{{ include "wc.componentName" (dict "root" . "component" "redis") }}{{- end -}}
{{- define "wc.redisSecretName" -}}
{{- if .Values.redis.auth.existingSecret -}}{{ .Values.redis.auth.existingSecret }}{{- else -}}{{ include "wc.componentName" (dict "root" . "component" "redis-auth") }}{{- end -}}
{{- end -}}
{{- define "wc.queueManagerHeadless" -}}{{ include "wc.componentName" (dict "root" . "component" "queue-manager-headless") }}{{- end -}}

{{/* The Secret (name) holding a token: (dict "root" $ "token" .Values.auth.adminTokens) */}}
{{- define "wc.tokenSecret" -}}
{{- if .token.existingSecret -}}{{ .token.existingSecret }}{{- else -}}{{ include "wc.authSecretName" .root }}{{- end -}}
{{- end -}}

{{/* The image of a service: (dict "root" $ "service" .Values.ingress "name" "ingress") */}}
{{- define "wc.image" -}}
{{- $repository := .service.repository | default (printf "%s/%s" .root.Values.image.repositoryPrefix .name) -}}
{{- printf "%s:%s" $repository (.service.tag | default .root.Values.image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}

{{/* gRPC address of queue-manager's internal port for ingress and admin: dns:/// over the headless Service, so
     each client balances its calls over every ready replica (docs/queue-manager.md, GrpcClientDefaults). */}}
{{- define "wc.queueManagerInternalAddress" -}}
{{- printf "dns:///%s:%d" (include "wc.queueManagerHeadless" .) (int .Values.queueManager.ports.internal) -}}
{{- end -}}

{{/* The StackExchange.Redis configuration string (QueueManager:Redis). The password is never in it: it is
     $(REDIS_PASSWORD), which the kubelet expands from the env variable set from the Secret just before. */}}
{{- define "wc.redisConfiguration" -}}
{{- $parts := list -}}
{{- if .Values.redis.enabled -}}
{{- $parts = append $parts (printf "%s:%d" (include "wc.redisName" .) (int .Values.redis.port)) -}}
{{- $parts = append $parts "password=$(REDIS_PASSWORD)" -}}
{{- else -}}
{{- $r := .Values.externalRedis -}}
{{- $parts = append $parts (printf "%s:%d" $r.host (int $r.port)) -}}
{{- range $r.clusterNodes }}{{ $parts = append $parts . }}{{ end -}}
{{- if $r.username }}{{ $parts = append $parts (printf "user=%s" $r.username) }}{{ end -}}
{{- if $r.existingSecret }}{{ $parts = append $parts "password=$(REDIS_PASSWORD)" }}{{ end -}}
{{- if $r.tls.enabled }}{{ $parts = append $parts "ssl=true" }}{{ end -}}
{{- if $r.tls.serverName }}{{ $parts = append $parts (printf "sslHost=%s" $r.tls.serverName) }}{{ end -}}
{{- end -}}
{{- join "," $parts -}}
{{- end -}}

{{/* Pod-level security context: non-root by number, RuntimeDefault seccomp; fsGroup makes mounted volumes writable. */}}
{{- define "wc.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level security context: the restricted Pod Security Standard, read-only root filesystem. */}}
{{- define "wc.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Spread replicas over nodes and zones unless the user gave constraints: (dict "root" $ "component" "ingress" "service" .Values.ingress) */}}
{{- define "wc.topologySpread" -}}
{{- if .service.topologySpreadConstraints -}}
{{ toYaml .service.topologySpreadConstraints }}
{{- else -}}
{{- range list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
- maxSkew: 1
  topologyKey: {{ . }}
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "wc.selectorLabels" (dict "root" $.root "component" $.component) | nindent 6 }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* Probes on the named management port: /healthz (alive), /readyz (ready for traffic), a startup probe that gives
     the start 60 s before liveness counts. */}}
{{- define "wc.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: management}
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet: {path: /healthz, port: management}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: management}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{/* Env shared by the three services: OTLP when configured, then the user's extra variables. */}}
{{- define "wc.commonEnv" -}}
{{- if .root.Values.otlp.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .root.Values.otlp.endpoint | quote }}
{{- end }}
{{- with .service.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod fields shared by the three services: (dict "root" $ "component" "ingress" "service" .Values.ingress) */}}
{{- define "wc.podCommon" -}}
serviceAccountName: {{ include "wc.componentName" (dict "root" .root "component" .component) }}
automountServiceAccountToken: false
enableServiceLinks: false
terminationGracePeriodSeconds: {{ .service.terminationGracePeriodSeconds }}
securityContext:
  {{- include "wc.podSecurityContext" (dict "uid" .root.Values.runAsUser) | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .service.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .service.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .service.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .service.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
topologySpreadConstraints:
  {{- include "wc.topologySpread" . | trim | nindent 2 }}
{{- end -}}

{{/* Pod template metadata: (dict "root" $ "component" "ingress" "service" .Values.ingress). No config checksum:
     every setting is in the pod spec itself, and admin re-reads its token files and channels file while running. */}}
{{- define "wc.podMetadata" -}}
labels:
  {{- include "wc.labels" . | nindent 2 }}
  {{- with .service.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .service.podAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A generated token: the value already in the cluster's Secret (kept across upgrades), else a new random one. */}}
{{- define "wc.generatedToken" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .secret -}}
{{- if and $existing (hasKey $existing.data .key) -}}
{{- index $existing.data .key -}}
{{- else -}}
{{- randAlphaNum 48 | b64enc -}}
{{- end -}}
{{- end -}}

{{/* A ServiceAccount without an API token: none of the services calls the Kubernetes API. */}}
{{- define "wc.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "wc.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "wc.labels" . | nindent 4 }}
automountServiceAccountToken: false
{{- end -}}

{{/* PodDisruptionBudget: (dict "root" $ "component" "ingress" "service" .Values.ingress) */}}
{{- define "wc.pdb" -}}
{{- if .service.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "wc.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "wc.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .service.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "wc.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/* HorizontalPodAutoscaler: (dict "root" $ "component" "ingress" "service" .Values.ingress "kind" "Deployment") */}}
{{- define "wc.hpa" -}}
{{- if .service.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "wc.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "wc.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: {{ .kind }}
    name: {{ include "wc.componentName" . }}
  minReplicas: {{ .service.autoscaling.minReplicas }}
  maxReplicas: {{ .service.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .service.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end -}}

{{/* channels.definitions, refused when a secret is written into it: only `*_file` keys may name a channel's token
     or an endpoint's secret, token or password (docs/admin.md, "Secrets from files and the environment"). */}}
{{- define "wc.checkedChannels" -}}
{{- range $i, $channel := .Values.channels.definitions -}}
{{- if hasKey $channel "token" -}}
{{- fail (printf "channels.definitions[%d] (%v): a literal token does not belong in values; use token_file: /var/run/webhook-connect/channel-secrets/<secret>/<key> with the Secret listed in channels.secrets" $i $channel.name) -}}
{{- end -}}
{{- if hasKey $channel "token_env" -}}
{{- fail (printf "channels.definitions[%d] (%v): token_env is not supported by this chart (admin's environment holds its own settings); use token_file with a Secret listed in channels.secrets" $i $channel.name) -}}
{{- end -}}
{{- range $j, $endpoint := $channel.endpoints | default list -}}
{{- range $preset, $settings := $endpoint.verification | default dict -}}
{{- range $field := list "secret" "token" "password" -}}
{{- if and (kindIs "map" $settings) (hasKey $settings $field) -}}
{{- fail (printf "channels.definitions[%d] (%v).endpoints[%d].verification.%s.%s: a literal secret does not belong in values; use %s_file: /var/run/webhook-connect/channel-secrets/<secret>/<key> with the Secret listed in channels.secrets" $i $channel.name $j $preset $field $field) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml .Values.channels.definitions -}}
{{- end -}}
