#!/usr/bin/env bash
# The operator issue's scenario on a real cluster (kind, k3d, any
# KUBECONFIG with nodes), with the real images: `e2e/cluster.sh scenario`.
#
#   helm install the chart (operator + injector) into arca-scn-sys-<id>,
#   a VaultCluster, a SecretEngine (KV v2, one secret written through it),
#   a Policy bound to the service account `web`, and a Deployment of `web`
#   annotated for injection, all in arca-scn-<id>; then checks that the
#   app container finds /vault/secrets/greeting with the secret's value.
#
# Images: ARCA_IMAGE_REGISTRY (default ghcr.io/arca-dev) and ARCA_IMAGE_TAG
# (default: the chart's appVersion) name them; ARCA_BUILD_IMAGES=1 builds
# them from the Dockerfiles with docker first, and ARCA_KIND_CLUSTER=<name>
# loads them into that kind cluster. ARCA_KEEP=1 leaves everything in place.
#
# Not run on the development machines: they have no Docker engine and no
# nodes (the same flow runs there with processes in
# e2e/tests/kube/operator_process.rs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

registry=${ARCA_IMAGE_REGISTRY:-ghcr.io/arca-dev}
tag=${ARCA_IMAGE_TAG:-$(awk -F'"' '/^appVersion:/ {print $2}' charts/arca/Chart.yaml)}
id=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
sys=arca-scn-sys-$id
app=arca-scn-$id
say() { printf 'scenario: %s\n' "$*" >&2; }

if [ -n "${ARCA_BUILD_IMAGES:-}" ]; then
    for c in server:arca agent:arca-agent injector:arca-injector operator:arca-operator; do
        say "building $registry/${c##*:}:$tag"
        docker build -q -f "${c%%:*}/Dockerfile" -t "$registry/${c##*:}:$tag" .
        [ -z "${ARCA_KIND_CLUSTER:-}" ] || kind load docker-image --name "$ARCA_KIND_CLUSTER" "$registry/${c##*:}:$tag"
    done
fi

cleanup() {
    [ -n "${ARCA_KEEP:-}" ] && { say "kept: namespaces $sys and $app"; return; }
    kubectl delete ns "$app" --wait=true --timeout=120s >/dev/null 2>&1 || true
    helm uninstall arca-scn-$id -n "$sys" >/dev/null 2>&1 || true
    kubectl delete ns "$sys" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT

kubectl create ns "$app" >/dev/null
say "helm install into $sys"
helm install "arca-scn-$id" charts/arca -n "$sys" --create-namespace --wait --timeout 5m \
    --set image.registry="$registry" --set image.tag="$tag" \
    --set injector.vaultAddress="https://vault.$app.svc:8200" >/dev/null

say "a VaultCluster in $app"
kubectl apply -n "$app" -f - >/dev/null <<YAML
apiVersion: arca.dev/v1alpha1
kind: VaultCluster
metadata: {name: vault}
spec:
  image: $registry/arca:$tag
  storage: {size: 1Gi}
  audit: {type: Stdout}
YAML
kubectl wait -n "$app" vaultcluster/vault --for=jsonpath='{.status.phase}'=Running --timeout=5m

say "a SecretEngine, a Policy with a binding"
kubectl apply -n "$app" -f - >/dev/null <<'YAML'
apiVersion: arca.dev/v1alpha1
kind: SecretEngine
metadata: {name: kv}
spec:
  clusterRef: {name: vault}
  path: app
  type: kv
  options: {version: "2"}
  config:
  - path: data/web
    data: {data: {greeting: hello from arca}}
---
apiVersion: arca.dev/v1alpha1
kind: Policy
metadata: {name: web}
spec:
  clusterRef: {name: vault}
  rules: |
    path "app/data/web" { capabilities = ["read"] }
  binding:
    serviceAccounts: [web]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
YAML
kubectl wait -n "$app" secretengine/kv policy.arca.dev/web --for=condition=Ready --timeout=2m

say "an annotated Deployment"
kubectl apply -n "$app" -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations:
        vault.hashicorp.com/agent-inject: "true"
        vault.hashicorp.com/role: web
        vault.hashicorp.com/tls-secret: vault-tls
        vault.hashicorp.com/ca-cert: /vault/tls/ca.crt
        vault.hashicorp.com/agent-inject-secret-greeting: app/data/web
        vault.hashicorp.com/agent-inject-template-greeting: |
          {{ with secret "app/data/web" }}{{ .Data.data.greeting }}{{ end }}
    spec:
      serviceAccountName: web
      containers:
      - name: app
        image: busybox:1.36
        command: [sh, -c, "sleep 3600"]
YAML
kubectl rollout status -n "$app" deploy/web --timeout=5m
got=$(kubectl exec -n "$app" deploy/web -c app -- cat /vault/secrets/greeting)
if [ "$got" != "hello from arca" ]; then
    say "FAILED: /vault/secrets/greeting holds '$got'"
    exit 1
fi
say "ok: the app reads '$got' from /vault/secrets/greeting"
