{{/* Image reference: a value with a "/" is used as is, else <registry>/<name>:<tag>. */}}
{{- define "arca.image" -}}
{{- $name := index . 0 -}}
{{- $root := index . 1 -}}
{{- if contains "/" $name -}}
{{- $name -}}
{{- else -}}
{{- printf "%s/%s:%s" $root.Values.image.registry $name (default $root.Chart.AppVersion $root.Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "arca.labels" -}}
app.kubernetes.io/part-of: arca
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "arca.operator" -}}{{ .Release.Name }}-operator{{- end -}}
{{- define "arca.injector" -}}{{ .Release.Name }}-injector{{- end -}}

{{- define "arca.vaultAddress" -}}
{{- if .Values.injector.vaultAddress -}}
{{- .Values.injector.vaultAddress -}}
{{- else -}}
{{- /* The VaultCluster vaultCluster.name in this namespace, created by the chart or not. */ -}}
{{- $tls := dig "tls" "mode" "Generated" .Values.vaultCluster.spec -}}
{{- printf "%s://%s.%s.svc:8200" (ternary "http" "https" (eq $tls "Disabled")) .Values.vaultCluster.name .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{- define "arca.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "arca.securityContext" -}}
securityContext:
  runAsNonRoot: true
  readOnlyRootFilesystem: true
  allowPrivilegeEscalation: false
  capabilities: {drop: [ALL]}
{{- end -}}

{{- define "arca.podSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  seccompProfile: {type: RuntimeDefault}
{{- end -}}
