{{/* Chart name. */}}
{{- define "lucy.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every resource name: <release>-lucy-tasks, or fullnameOverride. Leaves room for "-identity-teams". */}}
{{- define "lucy.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Common labels. */}}
{{- define "lucy.labels" -}}
app.kubernetes.io/name: {{ include "lucy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lucy-tasks
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" $name). */}}
{{- define "lucy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lucy.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image reference; a digest pins it. */}}
{{- define "lucy.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* ServiceAccount name. */}}
{{- define "lucy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lucy.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* An env entry from a Secret key: (dict "name" "VAR" "secret" "s" "key" "k" "optional" false). */}}
{{- define "lucy.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret | quote }}
      key: {{ .key | quote }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/* The database URL (services and the migration Job). */}}
{{- define "lucy.databaseEnv" -}}
{{- include "lucy.secretEnv" (dict "name" "DATABASE_URL" "secret" (required "database.existingSecret is required" .Values.database.existingSecret) "key" .Values.database.urlKey) }}
{{- end -}}

{{/* The RPC credential of a component: (dict "root" $ "name" <service or "admin">). The shared token, or with
rpc.callerKeys the component's own API key (Secret key <name>-key); services also get the keys file they accept
(rpc.apiKeys) and, with rpc.sharedTokenDisabled, refuse the shared token (RPC_TOKEN_DISABLED). */}}
{{- define "lucy.rpcTokenEnv" -}}
{{- $v := .root.Values -}}
{{- $key := $v.rpc.tokenKey -}}
{{- if $v.rpc.callerKeys }}{{ $key = printf "%s-key" .name }}{{ end -}}
{{- include "lucy.secretEnv" (dict "name" "RPC_TOKEN" "secret" (required "rpc.existingSecret is required" $v.rpc.existingSecret) "key" $key) }}
{{- if ne .name "admin" }}
{{- if $v.rpc.apiKeys.existingSecret }}
- name: RPC_API_KEYS_FILE
  value: /etc/lucy/api-keys/{{ $v.rpc.apiKeys.fileKey }}
{{- end }}
{{- if $v.rpc.sharedTokenDisabled }}
{{- if not $v.rpc.apiKeys.existingSecret }}{{ fail "rpc.sharedTokenDisabled needs rpc.apiKeys.existingSecret (the keys the services accept)" }}{{ end }}
{{- if not $v.rpc.callerKeys }}{{ fail "rpc.sharedTokenDisabled needs rpc.callerKeys (each service and the admin call with a key of their own)" }}{{ end }}
- name: RPC_TOKEN_DISABLED
  value: "1"
{{- end }}
{{- end }}
{{- end -}}

{{/* Environment every service shares: (dict "root" $ "name" $name "svc" $svc). */}}
{{- define "lucy.serviceEnv" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $name := .name -}}
- name: SERVICE
  value: {{ .name | quote }}
- name: RPC_HOST
  value: 0.0.0.0
- name: RPC_PORT
  value: {{ .svc.port | quote }}
- name: METRICS_HOST
  value: 0.0.0.0
- name: METRICS_PORT
  value: {{ .svc.metricsPort | quote }}
- name: NATS_URL
  value: {{ $v.nats.url | quote }}
- name: LUCY_STREAM_REPLICAS
  value: {{ $v.nats.streamReplicas | quote }}
- name: LUCY_PREFIX
  value: {{ $v.config.prefix | quote }}
- name: LOG_LEVEL
  value: {{ $v.config.logLevel | quote }}
- name: INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{ include "lucy.databaseEnv" $root }}
{{ include "lucy.rpcTokenEnv" (dict "root" $root "name" $name) }}
{{- with $v.nats.auth }}
{{- if .existingSecret }}
{{- if .perServiceUsers }}
{{/* deploy/nats/lucy-auth.conf: each service its own user, named like it, password under <service>-password. */}}
- name: NATS_USER
  value: {{ $name | quote }}
- name: NATS_INBOX_PREFIX
  value: {{ printf "_INBOX_%s" $name | quote }}
{{ include "lucy.secretEnv" (dict "name" "NATS_PASSWORD" "secret" .existingSecret "key" (printf "%s-password" $name)) }}
{{- else }}
{{- if .userKey }}
{{ include "lucy.secretEnv" (dict "name" "NATS_USER" "secret" .existingSecret "key" .userKey) }}
{{- end }}
{{- if .passwordKey }}
{{ include "lucy.secretEnv" (dict "name" "NATS_PASSWORD" "secret" .existingSecret "key" .passwordKey) }}
{{- end }}
{{- end }}
{{- if .tokenKey }}
{{ include "lucy.secretEnv" (dict "name" "NATS_TOKEN" "secret" .existingSecret "key" .tokenKey) }}
{{- end }}
{{- if .nkeySeedKey }}
{{ include "lucy.secretEnv" (dict "name" "NATS_NKEY_SEED" "secret" .existingSecret "key" .nkeySeedKey) }}
{{- end }}
{{- if .credsKey }}
- name: NATS_CREDS_FILE
  value: /etc/lucy/nats-creds/{{ .credsKey }}
{{- end }}
{{- end }}
{{- end }}
{{- if $v.nats.tls.existingSecret }}
- name: NATS_TLS_CA
  value: /etc/lucy/nats-tls/ca.crt
{{- if $v.nats.tls.clientCertificate }}
- name: NATS_TLS_CERT
  value: /etc/lucy/nats-tls/tls.crt
- name: NATS_TLS_KEY
  value: /etc/lucy/nats-tls/tls.key
{{- end }}
{{- end }}
{{- if $v.rpc.tls.existingSecret }}
- name: RPC_TLS_CERT_FILE
  value: /etc/lucy/rpc-tls/tls.crt
- name: RPC_TLS_KEY_FILE
  value: /etc/lucy/rpc-tls/tls.key
{{- end }}
{{- if eq .name "ingest-sial" }}
- name: SIAL_BASE_URL
  value: {{ $v.sial.baseUrl | quote }}
{{ include "lucy.secretEnv" (dict "name" "SIAL_USER" "secret" (required "sial.existingSecret is required" $v.sial.existingSecret) "key" $v.sial.userKey) }}
{{ include "lucy.secretEnv" (dict "name" "SIAL_PASSWORD" "secret" $v.sial.existingSecret "key" $v.sial.passwordKey) }}
{{- /* Seals the SIAL password staff may store in the Configuración; optional in ingest-sial. */}}
{{- if $v.secretBox.existingSecret }}
{{ include "lucy.secretEnv" (dict "name" "LUCY_SECRET_KEYS" "secret" $v.secretBox.existingSecret "key" $v.secretBox.keysKey) }}
{{ include "lucy.secretEnv" (dict "name" "LUCY_SECRET_KEY_ID" "secret" $v.secretBox.existingSecret "key" $v.secretBox.keyIdKey "optional" true) }}
{{- end }}
{{- end }}
{{- if or (eq .name "identity-teams") (eq .name "notifier") }}
- name: INGEST_RPC_URL
  value: {{ include "lucy.serviceUrl" (dict "root" $root "name" "ingest-sial" "svc" (get $v.services "ingest-sial")) | quote }}
{{- end }}
{{- if eq .name "notifier" }}
- name: IDENTITY_RPC_URL
  value: {{ include "lucy.serviceUrl" (dict "root" $root "name" "identity-teams" "svc" (get $v.services "identity-teams")) | quote }}
- name: MOODLE_PUBLIC_URL
  value: {{ $v.moodle.publicUrl | quote }}
{{- end }}
{{- if eq .name "identity-teams" }}
- name: IDENTITY_UPN_DOMAIN
  value: {{ required "identity.upnDomain is required" $v.identity.upnDomain | quote }}
- name: IDENTITY_UPN_PREFIX
  value: {{ $v.identity.upnPrefix | quote }}
{{- with $v.identity.adminToken }}
{{- if .existingSecret }}
{{ include "lucy.secretEnv" (dict "name" "IDENTITY_ADMIN_TOKEN" "secret" .existingSecret "key" .key) }}
{{- end }}
{{- end }}
{{- with $v.identity.safeDeletePrefix }}
- name: GRAPH_SAFE_DELETE_PREFIX
  value: {{ . | quote }}
{{- end }}
- name: GRAPH_STUDENT_SKU
  value: {{ $v.identity.studentSku | quote }}
- name: GRAPH_TENANT_ID
  value: {{ $v.graph.tenantId | quote }}
- name: GRAPH_CLIENT_ID
  value: {{ $v.graph.clientId | quote }}
{{- with $v.graph.authorityHost }}
- name: GRAPH_AUTHORITY_HOST
  value: {{ . | quote }}
{{- end }}
{{- with $v.graph.baseUrl }}
- name: GRAPH_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{ include "lucy.secretEnv" (dict "name" "GRAPH_CLIENT_SECRET" "secret" (required "graph.existingSecret is required" $v.graph.existingSecret) "key" $v.graph.clientSecretKey) }}
- name: MOODLE_URL
  value: {{ $v.moodle.url | quote }}
{{ include "lucy.secretEnv" (dict "name" "MOODLE_TOKEN" "secret" (required "moodle.existingSecret is required" $v.moodle.existingSecret) "key" $v.moodle.tokenKey) }}
{{ include "lucy.secretEnv" (dict "name" "LUCY_SECRET_KEYS" "secret" (required "secretBox.existingSecret is required" $v.secretBox.existingSecret) "key" $v.secretBox.keysKey) }}
{{ include "lucy.secretEnv" (dict "name" "LUCY_SECRET_KEY_ID" "secret" $v.secretBox.existingSecret "key" $v.secretBox.keyIdKey "optional" true) }}
{{- end }}
{{- if eq .name "notifier" }}
- name: SMTP_HOST
  value: {{ $v.smtp.host | quote }}
- name: SMTP_PORT
  value: {{ $v.smtp.port | quote }}
- name: SMTP_SECURE
  value: {{ $v.smtp.secure | quote }}
- name: SMTP_STARTTLS
  value: {{ $v.smtp.starttls | quote }}
- name: SMTP_FROM
  value: {{ $v.smtp.from | quote }}
{{- with $v.smtp.replyTo }}
- name: SMTP_REPLY_TO
  value: {{ . | quote }}
{{- end }}
{{- if $v.smtp.dkim.domain }}
- name: SMTP_DKIM_DOMAIN
  value: {{ $v.smtp.dkim.domain | quote }}
- name: SMTP_DKIM_SELECTOR
  value: {{ required "smtp.dkim.selector is required with smtp.dkim.domain" $v.smtp.dkim.selector | quote }}
- name: SMTP_DKIM_PRIVATE_KEY_FILE
  value: /etc/lucy/dkim/{{ $v.smtp.dkim.privateKeyKey }}
{{- end }}
{{- if $v.smtp.existingSecret }}
{{ include "lucy.secretEnv" (dict "name" "SMTP_USER" "secret" $v.smtp.existingSecret "key" $v.smtp.userKey) }}
{{ include "lucy.secretEnv" (dict "name" "SMTP_PASSWORD" "secret" $v.smtp.existingSecret "key" $v.smtp.passwordKey) }}
{{- end }}
{{- /* Seals the SMTP password staff may store in the Configuración; optional in the notifier. */}}
{{- if $v.secretBox.existingSecret }}
{{ include "lucy.secretEnv" (dict "name" "LUCY_SECRET_KEYS" "secret" $v.secretBox.existingSecret "key" $v.secretBox.keysKey) }}
{{ include "lucy.secretEnv" (dict "name" "LUCY_SECRET_KEY_ID" "secret" $v.secretBox.existingSecret "key" $v.secretBox.keyIdKey "optional" true) }}
{{- end }}
{{- end }}
{{- range $k, $val := $v.config.extraEnv }}
- name: {{ $k }}
  value: {{ $val | quote }}
{{- end }}
{{- range $k, $val := .svc.env }}
- name: {{ $k }}
  value: {{ $val | quote }}
{{- end }}
{{- end -}}

{{/* Base URL of a service inside the cluster: (dict "root" $ "name" $name "svc" $svc). */}}
{{- define "lucy.serviceUrl" -}}
{{- printf "%s://%s-%s:%v" (ternary "https" "http" (not (empty .root.Values.rpc.tls.existingSecret))) (include "lucy.fullname" .root) .name .svc.port -}}
{{- end -}}

{{/* Volumes of the service pods: a small writable /tmp and the mounted credential files. */}}
{{- define "lucy.volumes" -}}
{{- $dkim := and (eq .name "notifier") .root.Values.smtp.dkim.domain -}}
{{- with .root -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if and .Values.nats.auth.existingSecret .Values.nats.auth.credsKey }}
- name: nats-creds
  secret:
    secretName: {{ .Values.nats.auth.existingSecret | quote }}
    items:
      - key: {{ .Values.nats.auth.credsKey | quote }}
        path: {{ .Values.nats.auth.credsKey | quote }}
{{- end }}
{{- if .Values.nats.tls.existingSecret }}
- name: nats-tls
  secret:
    secretName: {{ .Values.nats.tls.existingSecret | quote }}
{{- end }}
{{- if .Values.rpc.tls.existingSecret }}
- name: rpc-tls
  secret:
    secretName: {{ .Values.rpc.tls.existingSecret | quote }}
{{- end }}
{{- if .Values.rpc.apiKeys.existingSecret }}
- name: api-keys
  secret:
    secretName: {{ .Values.rpc.apiKeys.existingSecret | quote }}
    items:
      - key: {{ .Values.rpc.apiKeys.fileKey | quote }}
        path: {{ .Values.rpc.apiKeys.fileKey | quote }}
{{- end }}
{{- if $dkim }}
- name: dkim
  secret:
    secretName: {{ required "smtp.dkim.existingSecret is required with smtp.dkim.domain" .Values.smtp.dkim.existingSecret | quote }}
    items:
      - key: {{ .Values.smtp.dkim.privateKeyKey | quote }}
        path: {{ .Values.smtp.dkim.privateKeyKey | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "lucy.volumeMounts" -}}
{{- $dkim := and (eq .name "notifier") .root.Values.smtp.dkim.domain -}}
{{- with .root -}}
- name: tmp
  mountPath: /tmp
{{- if and .Values.nats.auth.existingSecret .Values.nats.auth.credsKey }}
- name: nats-creds
  mountPath: /etc/lucy/nats-creds
  readOnly: true
{{- end }}
{{- if .Values.nats.tls.existingSecret }}
- name: nats-tls
  mountPath: /etc/lucy/nats-tls
  readOnly: true
{{- end }}
{{- if .Values.rpc.tls.existingSecret }}
- name: rpc-tls
  mountPath: /etc/lucy/rpc-tls
  readOnly: true
{{- end }}
{{- if .Values.rpc.apiKeys.existingSecret }}
- name: api-keys
  mountPath: /etc/lucy/api-keys
  readOnly: true
{{- end }}
{{- if $dkim }}
- name: dkim
  mountPath: /etc/lucy/dkim
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by every workload: (dict "root" $ "component" $name). */}}
{{- define "lucy.podCommon" -}}
{{- $v := .root.Values -}}
serviceAccountName: {{ include "lucy.serviceAccountName" .root }}
automountServiceAccountToken: false
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- if $v.topologySpread.enabled }}
topologySpreadConstraints:
  {{- range $v.topologySpread.topologyKeys }}
  - maxSkew: {{ $v.topologySpread.maxSkew }}
    topologyKey: {{ . }}
    whenUnsatisfiable: {{ $v.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "lucy.selectorLabels" (dict "root" $.root "component" $.component) | nindent 8 }}
  {{- end }}
{{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Whether a PodDisruptionBudget makes sense: minAvailable needs more than one replica, or it blocks drains. */}}
{{- define "lucy.wantsPdb" -}}
{{- $min := ternary .svc.autoscaling.minReplicas .svc.replicas .svc.autoscaling.enabled -}}
{{- if or (hasKey .svc.pdb "maxUnavailable") (gt (int $min) 1) -}}true{{- end -}}
{{- end -}}

{{/* JSON of the test pod's targets: the base URL of every enabled service, and the admin's health URL. */}}
{{- define "lucy.testTargets" -}}
{{- $urls := list -}}
{{- range $name, $svc := .Values.services -}}
{{- if $svc.enabled -}}
{{- $urls = append $urls (include "lucy.serviceUrl" (dict "root" $ "name" $name "svc" $svc)) -}}
{{- end -}}
{{- end -}}
{{- $admin := "" -}}
{{- if .Values.admin.enabled -}}
{{- $admin = printf "http://%s-web:%v%s" (include "lucy.fullname" .) .Values.admin.port .Values.admin.readinessPath -}}
{{- end -}}
{{- dict "services" $urls "admin" $admin | toJson -}}
{{- end -}}

{{/* NetworkPolicy egress rules: DNS, and PostgreSQL by CIDR or selector. */}}
{{- define "lucy.np.dns" -}}
- ports:
    - { protocol: UDP, port: 53 }
    - { protocol: TCP, port: 53 }
{{- end -}}
{{- define "lucy.np.postgres" -}}
{{- $pg := .Values.networkPolicy.postgres -}}
- to:
    {{- range $pg.cidrs }}
    - ipBlock: { cidr: {{ . | quote }} }
    {{- end }}
    {{- if or $pg.namespaceSelector $pg.podSelector }}
    - namespaceSelector:
        matchLabels:
          {{- toYaml $pg.namespaceSelector | nindent 10 }}
      podSelector:
        matchLabels:
          {{- toYaml $pg.podSelector | nindent 10 }}
    {{- end }}
  ports:
    - { protocol: TCP, port: {{ $pg.port }} }
{{- end -}}
