{{/*
Names and labels of this chart's own resources (standalone Deployment).
*/}}
{{- define "webhook-connect-connector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "webhook-connect-connector.fullname" -}}
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

{{- define "webhook-connect-connector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "webhook-connect-connector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "webhook-connect-connector.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "webhook-connect-connector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: connector
{{- end }}

{{- define "webhook-connect-connector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "webhook-connect-connector.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The parameters every public template below takes, one dict (build it once and pass it to each):
  values     required  the connector settings, shaped like this chart's values.yaml: in your chart
                       (index .Values "webhook-connect-connector"), in this chart .Values
  name       required  for configMap, volumes and tokenSecret: the base name of the ConfigMap (<name>) and of
                       the generated token Secret (<name>-token); a DNS label, e.g. "<your fullname>-connector"
  namespace  see each  configMap: optional metadata.namespace; tokenSecret: required (your .Release.Namespace)
  labels     optional  for configMap and tokenSecret: a dict of labels to put on them
  native     optional  for sidecar: true = native sidecar (init container with restartPolicy: Always), false =
                       plain container; default values.sidecar.native
  slot       optional  for sidecar: "initContainers" or "containers": render only when the form fits that list, so
                       one include under each list follows values.sidecar.native without editing your template
The templates read nothing but these parameters (never the caller's .Values, .Release or .Chart), so they render the
same container in your chart as in this chart's Deployment.
*/}}

{{/* Fails with a readable message unless the parameter dict carries the connector values. */}}
{{- define "webhook-connect-connector.requireValues" -}}
{{- if not (kindIs "map" .) }}
{{- fail "webhook-connect-connector templates take a dict: (dict \"values\" (index .Values \"webhook-connect-connector\") \"name\" \"<name>\")" }}
{{- end }}
{{- if not (kindIs "map" .values) }}
{{- fail "webhook-connect-connector templates: parameter \"values\" is missing; pass (index .Values \"webhook-connect-connector\") from your chart" }}
{{- end }}
{{- end }}

{{- define "webhook-connect-connector.requireName" -}}
{{- if not .name }}
{{- fail "webhook-connect-connector templates: parameter \"name\" is missing (the ConfigMap's name, e.g. (printf \"%s-connector\" (include \"<your chart>.fullname\" .)))" }}
{{- end }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" .name) }}
{{- fail (printf "webhook-connect-connector templates: parameter \"name\" = %q is not a DNS label (lower-case letters, digits, '-')" .name) }}
{{- end }}
{{- if gt (len .name) 57 }}
{{- fail (printf "webhook-connect-connector templates: parameter \"name\" = %q is longer than 57 characters (the token Secret appends \"-token\")" .name) }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest when a digest is set, else repository:tag. */}}
{{- define "webhook-connect-connector.image" -}}
{{- $image := .image }}
{{- if not $image.repository }}
{{- fail "webhook-connect-connector: image.repository is empty" }}
{{- end }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- if or (not $image.tag) (eq (toString $image.tag) "latest") }}
{{- fail (printf "webhook-connect-connector: image.tag = %q: name a fixed version (the chart's appVersion by default), never latest or empty" (toString $image.tag)) }}
{{- end }}
{{- printf "%s:%s" $image.repository (toString $image.tag) }}
{{- end }}
{{- end }}

{{/* The token Secret's name: token.existingSecret, else <name>-token when token.create. */}}
{{- define "webhook-connect-connector.tokenSecretName" -}}
{{- $v := .values }}
{{- if $v.token.existingSecret }}
{{- $v.token.existingSecret }}
{{- else if $v.token.create }}
{{- include "webhook-connect-connector.requireName" . }}
{{- printf "%s-token" .name }}
{{- else }}
{{- fail "webhook-connect-connector: no channel token: set token.existingSecret (a Secret with one key per channel holding its token) or token.create: true" }}
{{- end }}
{{- end }}

{{/* The key of a subscription's token in the token Secret. */}}
{{- define "webhook-connect-connector.tokenKey" -}}
{{- default .channel .tokenKey }}
{{- end }}

{{/* Validates the subscriptions; fails naming the entry and the problem. */}}
{{- define "webhook-connect-connector.validate" -}}
{{- $v := .values }}
{{- if not $v.queueManager.address }}
{{- fail "webhook-connect-connector: queueManager.address is required: queue-manager's Connect address, e.g. dns:///<release>-webhook-connect-queue-manager-headless.<namespace>.svc.cluster.local:5001 or connect.example.com:443" }}
{{- end }}
{{- if and (hasPrefix "http://" $v.queueManager.address) (not $v.queueManager.insecure) }}
{{- fail (printf "webhook-connect-connector: queueManager.address = %q is plaintext: set queueManager.insecure: true (trusted networks only) or use host:port / https:// for TLS" $v.queueManager.address) }}
{{- end }}
{{- if and (hasPrefix "https://" $v.queueManager.address) $v.queueManager.insecure }}
{{- fail (printf "webhook-connect-connector: queueManager.address = %q is TLS but queueManager.insecure is true: choose one" $v.queueManager.address) }}
{{- end }}
{{- range $key := list "queue_manager" "subscriptions" "management" }}
{{- if hasKey (default dict $v.config) $key }}
{{- fail (printf "webhook-connect-connector: config.%s is rendered by the chart: set it through the chart's values (queueManager, subscriptions, managementPort) instead" $key) }}
{{- end }}
{{- end }}
{{- if not $v.subscriptions }}
{{- fail "webhook-connect-connector: subscriptions is empty: name at least one channel, e.g. subscriptions: [{channel: orders}]" }}
{{- end }}
{{- $seen := dict }}
{{- range $i, $s := $v.subscriptions }}
{{- if not $s.channel }}
{{- fail (printf "webhook-connect-connector: subscriptions[%d].channel is required" $i) }}
{{- end }}
{{- if not (regexMatch "^[a-z0-9][a-z0-9._-]{0,62}$" $s.channel) }}
{{- fail (printf "webhook-connect-connector: subscriptions[%d].channel = %q is not a channel name (^[a-z0-9][a-z0-9._-]{0,62}$)" $i $s.channel) }}
{{- end }}
{{- if hasKey $seen $s.channel }}
{{- fail (printf "webhook-connect-connector: subscriptions[%d].channel = %q is listed twice" $i $s.channel) }}
{{- end }}
{{- $_ := set $seen $s.channel true }}
{{- end }}
{{- end }}

{{/* scheme://host[:port] of the default target: target.url's origin, or the processor in the same pod. */}}
{{- define "webhook-connect-connector.targetOrigin" -}}
{{- $t := .values.target }}
{{- if $t.url }}
{{- $u := urlParse $t.url }}
{{- if not (and (has $u.scheme (list "http" "https")) $u.host) }}
{{- fail (printf "webhook-connect-connector: target.url = %q is not an absolute http:// or https:// URL" $t.url) }}
{{- end }}
{{- printf "%s://%s" $u.scheme $u.host }}
{{- else }}
{{- printf "http://127.0.0.1:%d" (int $t.port) }}
{{- end }}
{{- end }}

{{/* The default path: target.url's path, or target.path. */}}
{{- define "webhook-connect-connector.targetPath" -}}
{{- $t := .values.target }}
{{- $path := ternary (urlParse (default "http://x/" $t.url)).path $t.path (not (empty $t.url)) }}
{{- default "/" $path }}
{{- end }}

{{/*
"webhook-connect-connector.config": the connector.yaml the connector runs with (docs/connector.md), as text.
Parameters: values. Hash it into a pod annotation so a change rolls the pods:
  checksum/connector: {{ include "webhook-connect-connector.config" $connector | sha256sum }}
*/}}
{{- define "webhook-connect-connector.config" -}}
{{- include "webhook-connect-connector.requireValues" . }}
{{- include "webhook-connect-connector.validate" . }}
{{- $v := .values }}
{{- $origin := include "webhook-connect-connector.targetOrigin" . }}
{{- $defaultPath := include "webhook-connect-connector.targetPath" . }}
{{- $qm := dict "address" $v.queueManager.address "insecure" (ternary true false (eq (toString $v.queueManager.insecure) "true")) }}
{{- $_ := set $qm "protocol" (default "auto" $v.queueManager.protocol) }}
{{- if $v.queueManager.httpAddress }}
{{- $_ := set $qm "http_address" $v.queueManager.httpAddress }}
{{- end }}
{{- if $v.queueManager.caSecret.name }}
{{- $_ := set $qm "ca_file" (printf "/etc/webhook-connect-connector-ca/%s" $v.queueManager.caSecret.key) }}
{{- end }}
{{- $subscriptions := list }}
{{- range $i, $s := $v.subscriptions }}
{{- $url := $s.url }}
{{- if not $url }}
{{- $url = printf "%s%s" $origin (default $defaultPath $s.path) }}
{{- end }}
{{- $sub := dict "channel" $s.channel "token_file" (printf "/var/run/secrets/webhook-connect-connector/%s" (include "webhook-connect-connector.tokenKey" $s)) "default_target" (dict "url" $url "method" $v.target.method "timeout" $v.target.timeout) }}
{{- if hasKey $s "maxInFlight" }}
{{- $_ := set $sub "max_in_flight" (int $s.maxInFlight) }}
{{- end }}
{{- if $s.targets }}
{{- $targets := dict }}
{{- range $endpoint, $t := $s.targets }}
{{- if not (or $t.url $t.path) }}
{{- fail (printf "webhook-connect-connector: subscriptions[%d].targets.%s needs url or path" $i $endpoint) }}
{{- end }}
{{- $targets = set $targets $endpoint (dict "url" (default (printf "%s%s" $origin (toString $t.path)) $t.url) "method" (default $v.target.method $t.method) "timeout" (default $v.target.timeout $t.timeout)) }}
{{- end }}
{{- $_ := set $sub "targets" $targets }}
{{- end }}
{{- $subscriptions = append $subscriptions $sub }}
{{- end }}
{{- $config := dict "queue_manager" $qm "subscriptions" $subscriptions "drain_grace_period" $v.drainGracePeriod "management" (dict "host" "0.0.0.0" "port" (int $v.managementPort)) "logging" (dict "log_level" (dict "Default" $v.logLevel)) }}
{{- $config = mergeOverwrite (deepCopy (default dict $v.config)) $config }}
{{- toYaml $config }}
{{- end }}

{{/*
"webhook-connect-connector.configMap": the ConfigMap the connector mounts (key connector.yaml).
Parameters: values, name, namespace (optional), labels (optional).
*/}}
{{- define "webhook-connect-connector.configMap" -}}
{{- include "webhook-connect-connector.requireValues" . }}
{{- include "webhook-connect-connector.requireName" . }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .name }}
  {{- with .namespace }}
  namespace: {{ . }}
  {{- end }}
  {{- with .labels }}
  labels:
    {{- toYaml . | nindent 4 }}
  {{- end }}
data:
  connector.yaml: |
    {{- include "webhook-connect-connector.config" . | nindent 4 }}
{{- end }}

{{/*
"webhook-connect-connector.tokenSecret": the generated token Secret (one random token per channel, kept across
upgrades), or nothing when token.existingSecret is set or token.create is false.
Parameters: values, name, namespace (required: the existing Secret is read back from it on upgrade), labels (optional).
*/}}
{{- define "webhook-connect-connector.tokenSecret" -}}
{{- include "webhook-connect-connector.requireValues" . }}
{{- $v := .values }}
{{- if and $v.token.create (not $v.token.existingSecret) }}
{{- include "webhook-connect-connector.requireName" . }}
{{- if not .namespace }}
{{- fail "webhook-connect-connector.tokenSecret: parameter \"namespace\" is required with token.create (the Secret is read back from it on upgrade, so the token stays the same); pass .Release.Namespace" }}
{{- end }}
{{- $secretName := printf "%s-token" .name }}
{{- $existing := (lookup "v1" "Secret" .namespace $secretName).data | default dict }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ $secretName }}
  {{- with .namespace }}
  namespace: {{ . }}
  {{- end }}
  {{- with .labels }}
  labels:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  annotations:
    # kept when the release is uninstalled: the channel's cloud side was given this token
    helm.sh/resource-policy: keep
type: Opaque
data:
  {{- range $v.subscriptions }}
  {{- $key := include "webhook-connect-connector.tokenKey" . }}
  {{ $key }}: {{ index $existing $key | default (randAlphaNum 48 | b64enc) | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
"webhook-connect-connector.volumes": the pod volumes the sidecar mounts (items of a volumes: list).
Parameters: values, name.
*/}}
{{- define "webhook-connect-connector.volumes" -}}
{{- include "webhook-connect-connector.requireValues" . }}
{{- include "webhook-connect-connector.requireName" . }}
{{- include "webhook-connect-connector.validate" . }}
{{- $v := .values -}}
- name: connector-config
  configMap:
    name: {{ .name }}
    items:
      - key: connector.yaml
        path: connector.yaml
- name: connector-token
  secret:
    secretName: {{ include "webhook-connect-connector.tokenSecretName" . }}
    defaultMode: 0444
    items:
      {{- range $v.subscriptions }}
      {{- $key := include "webhook-connect-connector.tokenKey" . }}
      - key: {{ $key }}
        path: {{ $key }}
      {{- end }}
{{- if $v.queueManager.caSecret.name }}
- name: connector-ca
  secret:
    secretName: {{ $v.queueManager.caSecret.name }}
    defaultMode: 0444
    items:
      - key: {{ $v.queueManager.caSecret.key }}
        path: {{ $v.queueManager.caSecret.key }}
{{- end }}
{{- end }}

{{/*
"webhook-connect-connector.sidecar": the connector container (one item of a containers: or initContainers: list).
Parameters: values, native (optional), slot (optional); see the parameter list above.
*/}}
{{- define "webhook-connect-connector.sidecar" -}}
{{- include "webhook-connect-connector.requireValues" . }}
{{- include "webhook-connect-connector.validate" . }}
{{- $v := .values }}
{{- $native := ternary .native $v.sidecar.native (hasKey . "native") }}
{{- if not (kindIs "bool" $native) }}
{{- fail (printf "webhook-connect-connector.sidecar: native = %v must be true or false" $native) }}
{{- end }}
{{- if and .slot (not (has .slot (list "initContainers" "containers"))) }}
{{- fail (printf "webhook-connect-connector.sidecar: slot = %q must be initContainers or containers" .slot) }}
{{- end }}
{{- if or (not .slot) (eq .slot (ternary "initContainers" "containers" $native)) -}}
- name: connector
  image: {{ include "webhook-connect-connector.image" $v | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if $native }}
  # a native sidecar (Kubernetes >= 1.29): starts before the pod's containers, runs beside them, stops after them
  restartPolicy: Always
  {{- end }}
  # the image's entrypoint (dotnet WebhookConnect.Connector.dll) with the mounted config file
  args:
    - --config
    - /etc/webhook-connect-connector/connector.yaml
  {{- with $v.env }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    - name: connector-mgmt
      containerPort: {{ int $v.managementPort }}
      protocol: TCP
  {{- with $v.probes.startup }}
  {{- if .enabled }}
  startupProbe:
    httpGet:
      path: /healthz
      port: connector-mgmt
    periodSeconds: {{ .periodSeconds }}
    timeoutSeconds: {{ .timeoutSeconds }}
    failureThreshold: {{ .failureThreshold }}
  {{- end }}
  {{- end }}
  {{- with $v.probes.liveness }}
  {{- if .enabled }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: connector-mgmt
    periodSeconds: {{ .periodSeconds }}
    timeoutSeconds: {{ .timeoutSeconds }}
    failureThreshold: {{ .failureThreshold }}
  {{- end }}
  {{- end }}
  {{- with $v.probes.readiness }}
  {{- if .enabled }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: connector-mgmt
    periodSeconds: {{ .periodSeconds }}
    timeoutSeconds: {{ .timeoutSeconds }}
    failureThreshold: {{ .failureThreshold }}
  {{- end }}
  {{- end }}
  {{- with $v.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.containerSecurityContext | nindent 4 }}
  volumeMounts:
    - name: connector-config
      mountPath: /etc/webhook-connect-connector
      readOnly: true
    - name: connector-token
      mountPath: /var/run/secrets/webhook-connect-connector
      readOnly: true
    {{- if $v.queueManager.caSecret.name }}
    - name: connector-ca
      mountPath: /etc/webhook-connect-connector-ca
      readOnly: true
    {{- end }}
{{- end }}
{{- end }}
