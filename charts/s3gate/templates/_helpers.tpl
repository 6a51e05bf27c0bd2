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

{{/*
The pod's environment, volume mounts and volumes: shared by the gateway's
StatefulSet and the views-rebuild Job, which load the same s3gate.yaml (and so
need every file and variable it names).
*/}}
{{- define "s3gate.podEnv" -}}
- name: TMPDIR
  value: /tmp
{{- with .Values.trustedProxies }}
- name: S3GATE_SERVER__FORWARDED_ALLOW_IPS
  value: {{ . | toJson | quote }}
{{- end }}
{{- with .Values.secrets.upstream }}
{{- if .existingSecret }}
- name: UPSTREAM_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .accessKeyIdKey }}
- name: UPSTREAM_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .secretAccessKeyKey }}
{{- if .sessionTokenKey }}
- name: UPSTREAM_SESSION_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .sessionTokenKey }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}

{{- define "s3gate.podVolumeMounts" -}}
- name: config
  mountPath: /etc/s3gate/s3gate.yaml
  subPath: s3gate.yaml
  readOnly: true
# Not a subPath: the kubelet swaps the files in place and the
# policy watcher reloads the bundle.
- name: policies
  mountPath: /etc/s3gate/policies
  readOnly: true
- name: data
  mountPath: /var/lib/s3gate
- name: tmp
  mountPath: /tmp
{{- if .Values.secrets.sessionKeys.existingSecret }}
- name: session-keys
  mountPath: /etc/s3gate/session-keys
  readOnly: true
{{- end }}
{{- if .Values.secrets.tokenKeys.existingSecret }}
- name: token-keys
  mountPath: /etc/s3gate/token-keys
  readOnly: true
{{- end }}
{{- if .Values.secrets.auditSigningKeys.existingSecret }}
- name: audit-keys
  mountPath: /etc/s3gate/audit-keys
  readOnly: true
{{- end }}
{{- if .Values.secrets.staticKeys.existingSecret }}
- name: static-keys
  mountPath: /etc/s3gate/static-keys
  readOnly: true
{{- end }}
{{- if .Values.secrets.tls.existingSecret }}
- name: tls
  mountPath: /etc/s3gate/tls
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}

{{/* Without `data`: the StatefulSet's is a claim or an emptyDir, the Job's an emptyDir. */}}
{{- define "s3gate.podVolumes" -}}
- name: config
  configMap:
    name: {{ include "s3gate.fullname" . }}-config
- name: policies
  configMap:
    name: {{ include "s3gate.policiesConfigMap" . }}
    items:
      {{- if .Values.policies.existingConfigMap }}
      {{- toYaml .Values.policies.items | nindent 6 }}
      {{- else }}
      {{- range $path, $_ := .Values.policies.files }}
      - key: {{ include "s3gate.policyKey" $path }}
        path: {{ $path | quote }}
      {{- end }}
      {{- end }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- with .Values.secrets.sessionKeys.existingSecret }}
- name: session-keys
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- with .Values.secrets.tokenKeys.existingSecret }}
- name: token-keys
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- with .Values.secrets.auditSigningKeys.existingSecret }}
- name: audit-keys
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- with .Values.secrets.staticKeys.existingSecret }}
- name: static-keys
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- with .Values.secrets.tls.existingSecret }}
- name: tls
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- with .Values.extraVolumes }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}

{{/* Egress rules of the NetworkPolicies (`egress` values; the OIDC issuers only where `issuers`). */}}
{{- define "s3gate.networkEgress" -}}
{{- $issuers := .issuers }}
{{- with .egress }}
{{- if .dns.enabled }}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
  {{- with .dns.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
- ports:
    {{- toYaml .store.ports | nindent 4 }}
  {{- with .store.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- if and $issuers .issuers.enabled }}
- ports:
    {{- toYaml .issuers.ports | nindent 4 }}
  {{- with .issuers.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- with .extra }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}
{{- end }}

{{/* The views-rebuild Job's pods: not the gateway's selector labels (no Service sends them requests). */}}
{{- define "s3gate.viewsRebuildLabels" -}}
app.kubernetes.io/name: {{ include "s3gate.name" . }}-views-rebuild
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: views-rebuild
{{- end }}
