{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "gamemesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name; the release name alone when it already contains the chart name. */}}
{{- define "gamemesh.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gamemesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Standard labels (app.kubernetes.io/*) on every object. */}}
{{- define "gamemesh.labels" -}}
helm.sh/chart: {{ include "gamemesh.chart" . }}
app.kubernetes.io/name: {{ include "gamemesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gamemesh
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "proxy"). */}}
{{- define "gamemesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gamemesh.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "gamemesh.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Name of the Secret the chart generates (when some secret has no existingSecret). */}}
{{- define "gamemesh.secretName" -}}
{{- printf "%s-secrets" (include "gamemesh.fullname" .) -}}
{{- end -}}

{{/* secretKeyRef of one secret; call with (dict "root" $ "secret" .Values.secrets.linkSecret). */}}
{{- define "gamemesh.secretRef" -}}
secretKeyRef:
  name: {{ default (include "gamemesh.secretName" .root) .secret.existingSecret }}
  key: {{ .secret.key }}
{{- end -}}

{{- define "gamemesh.matchmakerUrl" -}}
{{- printf "http://%s-matchmaker.%s.svc:%d" (include "gamemesh.fullname" .) .Release.Namespace (int .Values.matchmaker.port) -}}
{{- end -}}

{{/* Whether the matchmaker's store is Redis, and where its URL comes from. */}}
{{- define "gamemesh.redisExternal" -}}
{{- if or .Values.redis.external.url .Values.redis.external.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "gamemesh.redisUsed" -}}
{{- if or (include "gamemesh.redisExternal" .) .Values.redis.enabled -}}true{{- end -}}
{{- end -}}

{{/*
Non-empty when a proxy listener is in token mode: the proxies then verify
routing tokens with the matchmaker's routing secret (secrets.routingSecret).
*/}}
{{- define "gamemesh.proxyTokenMode" -}}
{{- if .Values.proxy.enabled -}}
{{- range .Values.proxy.listeners -}}{{- if eq .mode "token" -}}true{{- end -}}{{- end -}}
{{- end -}}
{{- end -}}

{{/* The public listener's port (fails when the named listener does not exist). */}}
{{- define "gamemesh.publicPort" -}}
{{- $port := 0 -}}
{{- range .Values.proxy.listeners -}}
{{- if eq .name $.Values.proxy.link.publicListener -}}{{- $port = .port -}}{{- end -}}
{{- end -}}
{{- if eq (int $port) 0 -}}
{{- fail (printf "proxy.link.publicListener: no listener named %q in proxy.listeners" .Values.proxy.link.publicListener) -}}
{{- end -}}
{{- $port -}}
{{- end -}}
