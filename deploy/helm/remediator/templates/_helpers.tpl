{{/* The objects' base name: `remediator` (as deploy/ names them) unless overridden. */}}
{{- define "remediator.fullname" -}}
{{- default .Chart.Name .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "remediator.serviceAccountName" -}}
{{- default (include "remediator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* Labels of every object; the selector labels are deploy/'s, so the two agree. */}}
{{- define "remediator.labels" -}}
app.kubernetes.io/part-of: remediator
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "remediator.selectorLabels" -}}
app.kubernetes.io/name: remediator
app.kubernetes.io/component: operator
{{- end -}}

{{- define "remediator.secretsName" -}}
{{- default (printf "%s-secrets" (include "remediator.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "remediator.webhookSecretName" -}}
{{- if eq .Values.webhook.certificate.source "existingSecret" -}}
{{- required "webhook.certificate.existingSecret: name the kubernetes.io/tls Secret" .Values.webhook.certificate.existingSecret -}}
{{- else -}}
{{- printf "%s-webhook-tls" (include "remediator.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "remediator.webhookHost" -}}
{{- printf "%s-webhook.%s.svc" (include "remediator.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* The ServiceAccount as an RBAC subject. */}}
{{- define "remediator.subject" -}}
- kind: ServiceAccount
  name: {{ include "remediator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}

{{/* Where the bridge may route alerts: the values, else `*` or the watched namespaces. */}}
{{- define "remediator.bridgeNamespaces" -}}
{{- $allowed := .Values.bridge.allowNamespaces | default .Values.watchNamespaces | default (list "*") -}}
{{- toJson $allowed -}}
{{- end -}}

{{/* The settings that cannot work together, refused at render time. */}}
{{- define "remediator.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.peering.enabled) -}}
{{- fail "replicas > 1 needs peering.enabled: without peering every replica would act" -}}
{{- end -}}
{{- if and .Values.rbac.namespaced (not .Values.watchNamespaces) -}}
{{- fail "rbac.namespaced needs watchNamespaces: the namespaces to bind the roles in" -}}
{{- end -}}
{{- if not (has .Values.webhook.certificate.source (list "selfSigned" "certManager" "existingSecret")) -}}
{{- fail "webhook.certificate.source: one of selfSigned, certManager, existingSecret" -}}
{{- end -}}
{{- end -}}

{{/*
The rules of a role in one of deploy/'s RBAC files (files/ links to them), so that the chart
and kustomize grant the same: (dict "ctx" $ "file" "files/rbac.yaml" "kind" "ClusterRole"
"name" "remediator-framework").
*/}}
{{- define "remediator.rules" -}}
{{- $found := list -}}
{{- range $doc := splitList "\n---" (.ctx.Files.Get .file) -}}
{{- $object := fromYaml $doc -}}
{{- if and (eq (get $object "kind" | default "") $.kind) (eq (dig "metadata" "name" "" $object) $.name) -}}
{{- $found = $object.rules -}}
{{- end -}}
{{- end -}}
{{- if not $found -}}
{{- fail (printf "%s has no %s %s" .file .kind .name) -}}
{{- end -}}
{{- toYaml $found -}}
{{- end -}}
