{{/*
Names. The StatefulSet name is kept to 52 characters: its pods are named
<name>-<ordinal> and its controller-revision-hash label <name>-<10 chars>,
both limited to 63.
*/}}
{{- define "s3gate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "s3gate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "s3gate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that never change for a release: selectors and volumeClaimTemplates (immutable). */}}
{{- define "s3gate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "s3gate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "s3gate.labels" -}}
helm.sh/chart: {{ include "s3gate.chart" . }}
{{ include "s3gate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: gateway
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Marks the headless Service, which the ServiceMonitor selects (both Services share the other labels). */}}
{{- define "s3gate.headlessLabel" -}}
s3gate.service/headless: "true"
{{- end }}

{{/* The `helm test` pod: the NetworkPolicy lets it in. Not the gateway's selector labels. */}}
{{- define "s3gate.testLabels" -}}
app.kubernetes.io/name: {{ include "s3gate.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
{{- end }}

{{- define "s3gate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "s3gate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "s3gate.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* The port the gateway listens on: config.server.port, 9000 by default. */}}
{{- define "s3gate.port" -}}
{{- dig "server" "port" 9000 (.Values.config | default dict) | int }}
{{- end }}

{{/* "HTTPS" when the gateway serves TLS itself (secrets.tls), else "HTTP". */}}
{{- define "s3gate.scheme" -}}
{{- if .Values.secrets.tls.existingSecret }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/* "true" while audit is on (config.audit.enabled, default true), else empty. */}}
{{- define "s3gate.auditEnabled" -}}
{{- if dig "audit" "enabled" true (.Values.config | default dict) }}true{{ end }}
{{- end }}

{{/* "true" when more than one gateway process may run, else empty. */}}
{{- define "s3gate.multiReplica" -}}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{- define "s3gate.policiesConfigMap" -}}
{{- if .Values.policies.existingConfigMap }}
{{- .Values.policies.existingConfigMap }}
{{- else }}
{{- printf "%s-policies" (include "s3gate.fullname" .) }}
{{- end }}
{{- end }}

{{/* ConfigMap key of a policy file: keys cannot contain "/". */}}
{{- define "s3gate.policyKey" -}}
{{- if or (not (regexMatch "^[-._a-zA-Z0-9]+(/[-._a-zA-Z0-9]+)*$" .)) (regexMatch "(^|/)[.][.]?(/|$)" .) }}
{{- fail (printf "policies.files: %q is not a relative path of letters, digits, '-', '_' and '.' (no '.' or '..' segment)" .) }}
{{- end }}
{{- replace "/" "__" . }}
{{- end }}

{{/*
Checks that stop an install which could not work. `required … nil` (not
`fail`) for missing values, so that `helm lint` with the default values
reports them without failing.
*/}}
{{- define "s3gate.validate" -}}
{{- $config := .Values.config | default dict }}
{{- if hasKey $config "data_dir" }}
{{- fail "config.data_dir is set by the chart (/var/lib/s3gate, the per-replica volume); remove it" }}
{{- end }}
{{- if dig "policy" "dir" "" $config }}
{{- fail "config.policy.dir is set by the chart (/etc/s3gate/policies, the policies ConfigMap); remove it" }}
{{- end }}
{{- if not (or .Values.policies.files .Values.policies.existingConfigMap) }}
{{- $_ := required "policies.files or policies.existingConfigMap is required: the gateway does not start without a policy bundle" nil }}
{{- end }}
{{- /* The `s3gate dev` allow-all policy has no place in a deployed bundle. */}}
{{- if not .Values.policies.allowDevAdmin }}
{{- $devAdmin := "policies: access/dev-admin.cedar is the `s3gate dev` allow-all policy (every action on every resource for Group::\"admins\"); leave it out of a deployed bundle (docs/deployment.md, Policies), or set policies.allowDevAdmin for a throw-away install" }}
{{- if hasKey .Values.policies.files "access/dev-admin.cedar" }}
{{- fail $devAdmin }}
{{- end }}
{{- range .Values.policies.items }}
{{- if eq .path "access/dev-admin.cedar" }}
{{- fail $devAdmin }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.policies.existingConfigMap (not .Values.policies.items) }}
{{- $_ := required "policies.items is required with policies.existingConfigMap: ConfigMap keys cannot contain '/', so map each key to its path (access__a.cedar -> access/a.cedar)" nil }}
{{- end }}
{{- if include "s3gate.auditEnabled" . }}
{{- $_ := required "secrets.auditSigningKeys.existingSecret is required while audit is enabled (create it from `s3gate keys generate`, docs/deployment.md)" .Values.secrets.auditSigningKeys.existingSecret }}
{{- if not .Values.secrets.auditSigningKeys.files }}
{{- $_ := required "secrets.auditSigningKeys.files must list the key files of that Secret, the active private key first" nil }}
{{- end }}
{{- end }}
{{- with .Values.secrets.sessionKeys }}
{{- if and .existingSecret (not (and .keys .active)) }}
{{- $_ := required "secrets.sessionKeys.keys and secrets.sessionKeys.active are required with secrets.sessionKeys.existingSecret" nil }}
{{- end }}
{{- end }}
{{- with .Values.secrets.staticKeys }}
{{- if and .existingSecret (not .keys) }}
{{- $_ := required "secrets.staticKeys.keys is required with secrets.staticKeys.existingSecret" nil }}
{{- end }}
{{- end }}
{{- if include "s3gate.multiReplica" . }}
{{- $_ := required "secrets.sessionKeys.existingSecret is required with more than one replica: listing continuation tokens and staged multipart uploads are sealed with a key derived from the active session key, which every replica must share" .Values.secrets.sessionKeys.existingSecret }}
{{- $_ := required "secrets.tokenKeys.existingSecret is required with more than one replica: otherwise each replica generates its own token key and equal values get different tokens" .Values.secrets.tokenKeys.existingSecret }}
{{- end }}
{{- end }}

{{/*
What the chart contributes to s3gate.yaml: paths of its mounts and references
to the Secrets under `secrets:`. `.Values.config` is merged over this.
*/}}
{{- define "s3gate.configDefaults" -}}
server:
  host: 0.0.0.0
  port: 9000
  {{- if .Values.secrets.tls.existingSecret }}
  tls:
    cert_file: /etc/s3gate/tls/tls.crt
    key_file: /etc/s3gate/tls/tls.key
  {{- end }}
{{- if .Values.secrets.upstream.existingSecret }}
upstream:
  access_key_id: {env: UPSTREAM_ACCESS_KEY_ID}
  secret_access_key: {env: UPSTREAM_SECRET_ACCESS_KEY}
  {{- if .Values.secrets.upstream.sessionTokenKey }}
  session_token: {env: UPSTREAM_SESSION_TOKEN}
  {{- end }}
{{- end }}
{{- if .Values.secrets.staticKeys.existingSecret }}
static_keys:
  {{- range .Values.secrets.staticKeys.keys }}
  - access_key_id: {{ .accessKeyId | quote }}
    secret_access_key: {file: {{ printf "/etc/s3gate/static-keys/%s" .secretKey | quote }}}
    principal:
      {{- toYaml .principal | nindent 6 }}
  {{- end }}
{{- end }}
policy:
  dir: /etc/s3gate/policies
  audit_bucket: {{ dig "audit" "bucket" "audit" (.Values.config | default dict) | quote }}
identity:
  roles_file: /etc/s3gate/policies/roles.yaml
  {{- if .Values.secrets.sessionKeys.existingSecret }}
  session_keys:
    {{- range .Values.secrets.sessionKeys.keys }}
    - id: {{ .id | quote }}
      secret: {file: {{ printf "/etc/s3gate/session-keys/%s" .secretKey | quote }}}
    {{- end }}
  active_session_key: {{ .Values.secrets.sessionKeys.active | quote }}
  {{- end }}
{{- if .Values.secrets.tokenKeys.existingSecret }}
masking:
  token_keys: {file: {{ printf "/etc/s3gate/token-keys/%s" .Values.secrets.tokenKeys.secretKey | quote }}}
{{- end }}
{{- if .Values.secrets.auditSigningKeys.existingSecret }}
audit:
  signing_keys:
    {{- range .Values.secrets.auditSigningKeys.files }}
    - {{ printf "/etc/s3gate/audit-keys/%s" . | quote }}
    {{- end }}
{{- end }}
data_dir: /var/lib/s3gate
{{- end }}

{{/* The complete s3gate.yaml: chart defaults, then .Values.config over them. */}}
{{- define "s3gate.config" -}}
{{- $defaults := include "s3gate.configDefaults" . | fromYaml }}
{{- $config := mustMergeOverwrite $defaults (deepCopy (.Values.config | default dict)) }}
{{- toYaml $config }}
{{- end }}

{{/* A probe from values with the container's port name and scheme filled in. */}}
{{- define "s3gate.probe" -}}
{{- $probe := deepCopy .probe }}
{{- $_ := set $probe.httpGet "port" "s3" }}
{{- $_ := set $probe.httpGet "scheme" .scheme }}
{{- toYaml $probe }}
{{- end }}
