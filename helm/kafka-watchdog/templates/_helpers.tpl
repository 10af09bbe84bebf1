{{/* Names and labels. */}}
{{- define "kafka-watchdog.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kafka-watchdog.fullname" -}}
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

{{- define "kafka-watchdog.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kafka-watchdog.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kafka-watchdog.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kafka-watchdog.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kafka-watchdog
{{- end -}}

{{- define "kafka-watchdog.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kafka-watchdog.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kafka-watchdog.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Fixed paths inside the container (the image's layout, docs/deploy.md). */}}
{{- define "kafka-watchdog.configPath" -}}/etc/kafka-watchdog/config.yaml{{- end -}}
{{- define "kafka-watchdog.secretsPath" -}}/etc/kafka-watchdog/secrets{{- end -}}
{{- define "kafka-watchdog.stateDir" -}}/var/lib/kafka-watchdog{{- end -}}

{{/* StatefulSet when the alert state must survive a rescheduled pod, else Deployment. */}}
{{- define "kafka-watchdog.kind" -}}
{{- if .Values.persistence.enabled -}}StatefulSet{{- else -}}Deployment{{- end -}}
{{- end -}}

{{- define "kafka-watchdog.alertingEnabled" -}}
{{- $alerting := .Values.config.alerting | default dict -}}
{{- if or (not (hasKey $alerting "enabled")) $alerting.enabled -}}true{{- end -}}
{{- end -}}

{{- define "kafka-watchdog.haEnabled" -}}
{{- $alerting := .Values.config.alerting | default dict -}}
{{- if $alerting.ha -}}true{{- end -}}
{{- end -}}

{{/*
The daemon's config: the user's `config:` block plus the two keys the chart owns. Rendered as
YAML into the ConfigMap and hashed into the pod template, so a change rolls the pods.
*/}}
{{- define "kafka-watchdog.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $server := get $config "server" | default dict -}}
{{- $_ := set $server "listen" (printf "0.0.0.0:%d" (int .Values.port)) -}}
{{- if .Values.webConfig.existingSecret -}}
{{- $_ := set $server "web_config_file" (printf "/etc/kafka-watchdog/web/%s" .Values.webConfig.key) -}}
{{- end -}}
{{- $_ := set $config "server" $server -}}
{{- $alerting := get $config "alerting" | default dict -}}
{{- if not (get $alerting "state_dir") -}}
{{- $_ := set $alerting "state_dir" (include "kafka-watchdog.stateDir" .) -}}
{{- end -}}
{{- $_ := set $config "alerting" $alerting -}}
{{- toYaml $config -}}
{{- end -}}

{{/*
Secrets written into `config:` would land in a ConfigMap. The keys the daemon treats as secret
(watchdog/config/schema.py's is_sensitive_key, PagerDuty's routing_key, apprise URLs) must come
through existingSecret instead. Prints one line per offending key path.
*/}}
{{- define "kafka-watchdog.inlineSecrets" -}}
{{- $path := .path -}}
{{- if kindIs "map" .value -}}
{{- range $key, $value := .value -}}
{{- $child := ternary $key (printf "%s.%s" $path $key) (eq $path "") -}}
{{- if and (eq $key "apprise") $value -}}
{{- printf "%s (apprise URLs hold tokens: give them through secretEnv as KAFKA_WATCHDOG__ALERTING__RECEIVERS__<NAME>__APPRISE)\n" $child -}}
{{- else if and (kindIs "string" $value) (regexMatch "(?i)(password|secret|token|credential|ssl\\.key\\.pem|sasl\\.oauthbearer\\.config|^routing_key$)" $key) (not (regexMatch "(_file|_env|\\.url)$" $key)) -}}
{{- printf "%s (use %s_file with existingSecret, or %s_env with secretEnv)\n" $child $key $key -}}
{{- else -}}
{{- include "kafka-watchdog.inlineSecrets" (dict "path" $child "value" $value) -}}
{{- end -}}
{{- end -}}
{{- else if kindIs "slice" .value -}}
{{- range $index, $value := .value -}}
{{- include "kafka-watchdog.inlineSecrets" (dict "path" (printf "%s[%d]" $path $index) "value" $value) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Checks a JSON schema cannot express, each failing with the fix. Called from the ConfigMap,
which every mode renders.
*/}}
{{- define "kafka-watchdog.validate" -}}
{{- $config := .Values.config -}}
{{- if not $config.clusters -}}
{{- fail "config.clusters is empty: name at least one Kafka cluster, e.g. --set config.clusters[0].name=prod --set config.clusters[0].bootstrap_servers=kafka:9092 (docs/reference-config.yaml)" -}}
{{- end -}}
{{- range $index, $cluster := $config.clusters -}}
{{- if not (and (kindIs "map" $cluster) $cluster.name $cluster.bootstrap_servers) -}}
{{- fail (printf "config.clusters[%d] needs a name and bootstrap_servers" $index) -}}
{{- end -}}
{{- end -}}
{{- if and $config.server (hasKey $config.server "listen") -}}
{{- fail "config.server.listen is set by the chart (0.0.0.0:<port>) so that probes and the Service find it: set port instead" -}}
{{- end -}}
{{- $secrets := include "kafka-watchdog.inlineSecrets" (dict "path" "config" "value" $config) -}}
{{- if and $secrets (not .Values.allowInlineSecrets) -}}
{{- fail (printf "secrets in config: would be stored in a ConfigMap; move them to existingSecret:\n%s(allowInlineSecrets=true accepts them, for throwaway test clusters only)" $secrets) -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (include "kafka-watchdog.alertingEnabled" .) (not (include "kafka-watchdog.haEnabled" .)) (not .Values.sidecar.enabled) -}}
{{- fail (printf "replicaCount %d needs config.alerting.ha (a ZooKeeper ensemble for the notifier lock, e.g. config.alerting.ha.zookeeper.connect=zk:2181/ops): without it every replica would page; or set config.alerting.enabled=false (docs/deploy.md#high-availability)" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and .Values.serviceMonitor.enabled (not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) -}}
{{- fail "serviceMonitor.enabled needs the Prometheus operator's CRDs (monitoring.coreos.com/v1), which this cluster does not serve; install them first (helm template: --api-versions monitoring.coreos.com/v1/ServiceMonitor)" -}}
{{- end -}}
{{- if and .Values.prometheusRule.enabled (not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/PrometheusRule")) -}}
{{- fail "prometheusRule.enabled needs the Prometheus operator's CRDs (monitoring.coreos.com/v1), which this cluster does not serve; install them first (helm template: --api-versions monitoring.coreos.com/v1/PrometheusRule)" -}}
{{- end -}}
{{- if and .Values.prometheusRule.enabled (not (.Files.Glob "files/alerts/*.rules.yml")) -}}
{{- fail "prometheusRule.enabled but the chart holds no rule files (files/alerts/*.rules.yml): run `make chart-files` in the repository before packaging" -}}
{{- end -}}
{{- if and .Values.dashboards.enabled (not (.Files.Glob "files/dashboards/*.json")) -}}
{{- fail "dashboards.enabled but the chart holds no dashboards (files/dashboards/*.json): run `make chart-files` in the repository before packaging" -}}
{{- end -}}
{{- if .Values.sidecar.enabled -}}
{{- if not .Values.sidecar.podSelector -}}
{{- fail "sidecar.enabled needs sidecar.podSelector: the labels of the pods that carry the watchdog container (the Service selects them)" -}}
{{- end -}}
{{- if .Values.persistence.enabled -}}
{{- fail "sidecar.enabled and persistence.enabled exclude each other: in sidecar mode the host workload owns the pod and its volumes" -}}
{{- end -}}
{{- if .Values.networkPolicy.enabled -}}
{{- fail "networkPolicy.enabled is for the chart's own pods; in sidecar mode it would restrict the host workload's pods: write that policy with the workload" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.secretEnv (not .Values.existingSecret) -}}
{{- fail "secretEnv names keys of existingSecret, which is not set" -}}
{{- end -}}
{{- end -}}

{{/* The watchdog container: shared by the Deployment, the StatefulSet and the sidecar example. */}}
{{- define "kafka-watchdog.container" -}}
name: kafka-watchdog
image: {{ include "kafka-watchdog.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
args: ["run", "--config", {{ include "kafka-watchdog.configPath" . | quote }}]
ports:
  - name: http
    containerPort: {{ .Values.port }}
    protocol: TCP
{{- if or .Values.secretEnv .Values.extraEnv }}
env:
  {{- range $name, $key := .Values.secretEnv }}
  - name: {{ $name }}
    valueFrom:
      secretKeyRef:
        name: {{ $.Values.existingSecret }}
        key: {{ $key }}
  {{- end }}
  {{- with .Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- with .Values.extraEnvFrom }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumeMounts:
  - name: watchdog-config
    mountPath: {{ include "kafka-watchdog.configPath" . }}
    subPath: config.yaml
    readOnly: true
  - name: watchdog-state
    mountPath: {{ include "kafka-watchdog.stateDir" . }}
  - name: watchdog-tmp
    mountPath: /tmp
  {{- if .Values.existingSecret }}
  - name: watchdog-secrets
    mountPath: {{ include "kafka-watchdog.secretsPath" . }}
    readOnly: true
  {{- end }}
  {{- if .Values.webConfig.existingSecret }}
  - name: watchdog-web
    mountPath: /etc/kafka-watchdog/web
    readOnly: true
  {{- end }}
  {{- with .Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- range $name := list "livenessProbe" "readinessProbe" "startupProbe" }}
{{- with (get $.Values $name) }}
{{- $probe := deepCopy . }}
{{- if and $.Values.webConfig.tls $probe.httpGet }}
{{- $_ := set $probe.httpGet "scheme" "HTTPS" }}
{{- end }}
{{ $name }}:
  {{- toYaml $probe | nindent 2 }}
{{- end }}
{{- end }}
{{- with .Values.resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.securityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The pod's volumes besides the state volume (emptyDir or the StatefulSet's claim).
Prefixed names, so that they cannot clash with a host workload's volumes in sidecar mode. */}}
{{- define "kafka-watchdog.volumes" -}}
- name: watchdog-config
  configMap:
    name: {{ include "kafka-watchdog.fullname" . }}
- name: watchdog-tmp
  {{- if .Values.tmpSizeLimit }}
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- if .Values.existingSecret }}
- name: watchdog-secrets
  secret:
    secretName: {{ .Values.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- if .Values.webConfig.existingSecret }}
- name: watchdog-web
  secret:
    secretName: {{ .Values.webConfig.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}
