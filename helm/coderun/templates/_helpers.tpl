{{/* The chart name, overridable. */}}
{{- define "coderun.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name prefix of every resource. Kubernetes names (and label values) stop at 63
characters; a release name that already contains the chart name is used as it is.
*/}}
{{- define "coderun.fullname" -}}
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

{{/* name-version, for the helm.sh/chart label. */}}
{{- define "coderun.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "coderun.labels" -}}
helm.sh/chart: {{ include "coderun.chart" . }}
{{ include "coderun.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: coderun
{{- end }}

{{/*
Selector labels. Immutable once a Deployment exists, so never the chart version: an upgrade
must not need the Deployment to be recreated.
*/}}
{{- define "coderun.selectorLabels" -}}
app.kubernetes.io/name: {{ include "coderun.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Component resource names. */}}
{{- define "coderun.api.fullname" -}}
{{- printf "%s-api" (include "coderun.fullname" . | trunc 59 | trimSuffix "-") }}
{{- end }}

{{- define "coderun.operator.fullname" -}}
{{- printf "%s-operator" (include "coderun.fullname" . | trunc 54 | trimSuffix "-") }}
{{- end }}

{{/* Cluster-scoped names include the namespace: two releases may share a release name. */}}
{{- define "coderun.operator.clusterRoleName" -}}
{{- printf "%s-%s" (include "coderun.operator.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* ServiceAccount names. */}}
{{- define "coderun.api.serviceAccountName" -}}
{{- if .Values.api.serviceAccount.create }}
{{- default (include "coderun.api.fullname" .) .Values.api.serviceAccount.name }}
{{- else }}
{{- required "api.serviceAccount.name is required when api.serviceAccount.create is false" .Values.api.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "coderun.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "coderun.operator.fullname" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Namespace of CodeRun objects and sandbox Jobs (a namespace name has 63 characters). */}}
{{- define "coderun.sandbox.namespace" -}}
{{- default (printf "%s-sandbox" (.Release.Namespace | trunc 55 | trimSuffix "-")) .Values.sandbox.namespace.name }}
{{- end }}

{{/* The service image reference. */}}
{{- define "coderun.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Name of the Secret the chart creates for URLs given inline. */}}
{{- define "coderun.secretName" -}}
{{- printf "%s-urls" (include "coderun.fullname" . | trunc 58 | trimSuffix "-") }}
{{- end }}

{{/* True (non-empty) when an external database is configured. */}}
{{- define "coderun.externalDatabase" -}}
{{- if or .Values.database.existingSecret .Values.database.url }}true{{ end }}
{{- end }}

{{/*
The claim under SQLite (the default install: no external database, persistence.enabled):
persistence.existingClaim, or the one the chart creates. Empty: /data is an emptyDir.
*/}}
{{- define "coderun.dataClaim" -}}
{{- if and .Values.persistence.enabled (not (include "coderun.externalDatabase" .)) }}
{{- default (printf "%s-data" (include "coderun.fullname" . | trunc 58 | trimSuffix "-")) .Values.persistence.existingClaim }}
{{- end }}
{{- end }}

{{/* Names of the hook Jobs and their ServiceAccounts and RBAC (templates/hooks-*.yaml). */}}
{{- define "coderun.crdApply.fullname" -}}
{{- printf "%s-crd-apply" (include "coderun.fullname" . | trunc 53 | trimSuffix "-") }}
{{- end }}

{{- define "coderun.crdApply.clusterRoleName" -}}
{{- printf "%s-%s" (include "coderun.crdApply.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "coderun.cleanup.fullname" -}}
{{- printf "%s-cleanup" (include "coderun.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/* True (non-empty) when Redis is configured. */}}
{{- define "coderun.redisEnabled" -}}
{{- if or .Values.redis.existingSecret .Values.redis.url }}true{{ end }}
{{- end }}

{{/* Settings every CodeRun container reads (API, operator, migration Job). */}}
{{- define "coderun.env.common" -}}
- name: CODERUN_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: CODERUN_LOG_FORMAT
  value: {{ .Values.config.logFormat | quote }}
- name: CODERUN_KUBERNETES_NAMESPACE
  value: {{ include "coderun.sandbox.namespace" . | quote }}
{{- with .Values.kubernetesApi.host }}
- name: KUBERNETES_SERVICE_HOST
  value: {{ . | quote }}
{{- end }}
{{- with .Values.kubernetesApi.port }}
- name: KUBERNETES_SERVICE_PORT
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
Settings of the API and the migration Job (the production guard, storage): the database and Redis URLs come from
Secrets, never inline in the pod spec. The operator gets none of them.
*/}}
{{- define "coderun.env.storage" -}}
- name: CODERUN_ENV
  value: {{ .Values.config.environment | quote }}
- name: CODERUN_COOKIE_SECURE
  value: {{ .Values.config.cookieSecure | quote }}
- name: CODERUN_EXECUTOR
  value: {{ .Values.executor.type | quote }}
- name: CODERUN_DATA_DIR
  value: /data
{{- if include "coderun.externalDatabase" . }}
- name: CODERUN_DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- if .Values.database.existingSecret }}
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.existingSecretKey }}
      {{- else }}
      name: {{ include "coderun.secretName" . }}
      key: database-url
      {{- end }}
- name: CODERUN_AUTO_MIGRATE
  value: "false"
{{- else }}
# No external database: SQLite in /data, a PersistentVolumeClaim (persistence.*) or, with
# persistence.enabled=false, the pod's emptyDir. One replica either way.
- name: CODERUN_DATABASE_URL
  value: sqlite:////data/coderun.db
- name: CODERUN_AUTO_MIGRATE
  value: "true"
{{- end }}
{{- if include "coderun.redisEnabled" . }}
- name: CODERUN_REDIS_URL
  valueFrom:
    secretKeyRef:
      {{- if .Values.redis.existingSecret }}
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
      {{- else }}
      name: {{ include "coderun.secretName" . }}
      key: redis-url
      {{- end }}
{{- end }}
{{- end }}

{{/*
Settings only the operator reads (CODERUN_OPERATOR_*, docs/operator.md): how sandbox pods
are placed, which images they run, how many run at once.
*/}}
{{- define "coderun.operator.env" -}}
# One namespace, so that the operator's rights are a Role there (never cluster-wide).
- name: CODERUN_OPERATOR_NAMESPACES
  value: {{ include "coderun.sandbox.namespace" . | quote }}
- name: CODERUN_OPERATOR_LIVENESS
  value: {{ printf "http://0.0.0.0:%d/healthz" (int .Values.operator.healthPort) | quote }}
- name: CODERUN_OPERATOR_MAX_CONCURRENT_RUNS
  value: {{ .Values.sandbox.maxConcurrentRuns | quote }}
- name: CODERUN_OPERATOR_MAX_RUNNING_PER_ACCOUNT
  value: {{ .Values.sandbox.maxRunningPerAccount | quote }}
- name: CODERUN_OPERATOR_RUNTIME_CLASS_NAME
  value: {{ .Values.sandbox.runtimeClassName | quote }}
- name: CODERUN_OPERATOR_PRIORITY_CLASS_NAME
  value: {{ .Values.sandbox.priorityClassName | quote }}
- name: CODERUN_OPERATOR_NODE_SELECTOR
  value: {{ .Values.sandbox.nodeSelector | toJson | quote }}
- name: CODERUN_OPERATOR_TOLERATIONS
  value: {{ .Values.sandbox.tolerations | toJson | quote }}
- name: CODERUN_OPERATOR_IMAGE_PULL_POLICY
  value: {{ .Values.sandbox.imagePullPolicy | quote }}
- name: CODERUN_OPERATOR_IMAGE_PREFIX
  value: {{ .Values.sandbox.imagePrefix | quote }}
- name: CODERUN_OPERATOR_IMAGES
  value: {{ .Values.sandbox.images | toJson | quote }}
- name: CODERUN_OPERATOR_LIVENESS_PORT
  value: {{ .Values.operator.healthPort | quote }}
- name: CODERUN_OPERATOR_METRICS_PORT
  value: {{ .Values.operator.metricsPort | quote }}
{{- end }}

{{/*
Refuse combinations that would install but not work. SQLite lives in one pod's emptyDir, so
a second API replica would have its own database.
*/}}
{{- define "coderun.validate" -}}
{{- if and (not (include "coderun.externalDatabase" .)) (gt (int .Values.api.replicaCount) 1) }}
{{- fail "api.replicaCount > 1 needs an external database: set database.url or database.existingSecret (and redis.*), or api.replicaCount=1 for the SQLite trial mode" }}
{{- end }}
{{- if and (gt (int .Values.api.replicaCount) 1) (not (include "coderun.redisEnabled" .)) }}
{{- fail "api.replicaCount > 1 needs Redis (shared rate limits and result wake-ups): set redis.url or redis.existingSecret" }}
{{- end }}
{{- $sandbox := include "coderun.sandbox.namespace" . }}
{{- if eq $sandbox .Release.Namespace }}
{{- fail (printf "sandbox.namespace.name must not be the release namespace (%s): untrusted code would share it with the API; choose another name" $sandbox) }}
{{- end }}
{{- if not .Values.sandbox.namespace.create }}
{{- /* An existing namespace must enforce Pod Security "restricted". lookup sees nothing
       in `helm template` and dry runs, so only a namespace that is found is checked. */}}
{{- $existing := lookup "v1" "Namespace" "" $sandbox }}
{{- if and $existing (ne (dig "metadata" "labels" "pod-security.kubernetes.io/enforce" "" $existing) "restricted") }}
{{- fail (printf "namespace %s must be labelled pod-security.kubernetes.io/enforce=restricted before sandbox pods run there (or set sandbox.namespace.create=true for a new one)" $sandbox) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"true" when the chart's CodeRunPool objects can be created now. Helm builds an upgrade's
objects before its pre-upgrade hooks run, so an upgrade from a release without the
CodeRunPool CRD would fail ("no matches for kind") before the CRD hook could install it:
such an upgrade renders no pools (NOTES.txt says to upgrade once more). An install (Helm
creates crds/ first) and `helm template` always render them.
*/}}
{{- define "coderun.pools.renderable" -}}
{{- if or (not .Release.IsUpgrade) (.Capabilities.APIVersions.Has "coderun.dev/v1alpha1/CodeRunPool") }}true{{ end }}
{{- end }}
