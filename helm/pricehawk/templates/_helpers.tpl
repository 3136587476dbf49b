{{/* Chart name. */}}
{{- define "pricehawk.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name: "pricehawk" for a release called pricehawk. */}}
{{- define "pricehawk.fullname" -}}
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

{{- define "pricehawk.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "pricehawk.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pricehawk
{{- end }}

{{/* Selector labels of one component: (dict "ctx" $ "component" "portal"). */}}
{{- define "pricehawk.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pricehawk.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "pricehawk.componentLabels" -}}
{{ include "pricehawk.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "pricehawk.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "pricehawk.crawlerImage" -}}
{{- printf "%s:%s" .Values.crawlerImage.repository (default .Chart.AppVersion .Values.crawlerImage.tag) }}
{{- end }}

{{- define "pricehawk.configName" -}}
{{- printf "%s-config" (include "pricehawk.fullname" .) }}
{{- end }}

{{- define "pricehawk.secretName" -}}
{{- default (printf "%s-secrets" (include "pricehawk.fullname" .)) .Values.existingSecret }}
{{- end }}

{{/* Settings into every container: the ConfigMap, then the Secret. */}}
{{- define "pricehawk.envFrom" -}}
- configMapRef:
    name: {{ include "pricehawk.configName" . }}
- secretRef:
    name: {{ include "pricehawk.secretName" . }}
{{- end }}

{{/* ConfigMap data: every non-secret setting, stringified. */}}
{{- define "pricehawk.configData" -}}
{{- range $key, $value := .Values.config }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* Secret data: every secret setting, base64. */}}
{{- define "pricehawk.secretData" -}}
{{- range $key, $value := .Values.secrets }}
{{ $key }}: {{ $value | toString | b64enc | quote }}
{{- end }}
{{- end }}

{{- define "pricehawk.podSpecCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Writable folders under a read-only root filesystem. */}}
{{- define "pricehawk.volumes" -}}
- name: home
  emptyDir:
    sizeLimit: {{ .Values.home.sizeLimit }}
- name: tmp
  emptyDir: {}
{{- end }}

{{- define "pricehawk.volumeMounts" -}}
- name: home
  mountPath: {{ .Values.home.mountPath }}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Pods restart when settings change. */}}
{{- define "pricehawk.checksums" -}}
checksum/config: {{ include "pricehawk.configData" . | sha256sum }}
checksum/secret: {{ include "pricehawk.secretData" . | sha256sum }}
{{- end }}

{{/* Probes on the /metrics server's /healthz and /readyz (worker, crawler, console). */}}
{{- define "pricehawk.metricsProbes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: metrics
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 6
readinessProbe:
  httpGet:
    path: /readyz
    port: metrics
  periodSeconds: 15
  timeoutSeconds: 5
  failureThreshold: 3
startupProbe:
  httpGet:
    path: /healthz
    port: metrics
  periodSeconds: 5
  failureThreshold: 60
{{- end }}
