{{/*
Names and labels shared by every template.
*/}}

{{/* Base name of the release's objects, at most 63 characters less room for a suffix. */}}
{{- define "connecta.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "connecta.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component ("appservice" or "client"); pass (list $ "component"). */}}
{{- define "connecta.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* The container image, repository and tag (default: the chart's appVersion). */}}
{{- define "connecta.image" -}}
{{- $repo := required "image.repository is required: the Connecta image (ops/helm/Dockerfile describes it)" .Values.image.repository -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret the operator provides; its name is required. */}}
{{- define "connecta.secretName" -}}
{{- required "existingSecret is required: the Secret holding as_token, hs_token, operator_token, ... (README.md)" .Values.existingSecret -}}
{{- end -}}

{{/* Whether calls are set up: a LiveKit URL is given. */}}
{{- define "connecta.livekit" -}}
{{- if .Values.livekit.url -}}true{{- end -}}
{{- end -}}

{{/* Pod security context of both components (restricted Pod Security Standard). */}}
{{- define "connecta.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context of both components (restricted Pod Security Standard). */}}
{{- define "connecta.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}
