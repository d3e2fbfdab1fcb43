# Shared by e2e/kube/{build,up,down}: the pinned versions and where things go.
# shellcheck shell=bash

kube_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KUBE_VERSION=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v1\./ {print $2; exit}' "$kube_here/mod/go.mod")

say() { printf 'e2e/kube: %s\n' "$*" >&2; }
die() { printf 'e2e/kube: error: %s\n' "$*" >&2; exit 1; }

need_go() {
    command -v go >/dev/null ||
        die "Go is not installed: the control plane is built from source with it (https://go.dev/doc/install; Debian: apt-get install golang)"
    local want have
    want=$(awk '$1 == "go" {print $2; exit}' "$kube_here/mod/go.mod")
    have=$(go env GOVERSION); have=${have#go}
    if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" != "$want" ]; then
        die "Kubernetes $KUBE_VERSION needs Go $want, this machine has $have: export GOTOOLCHAIN=go1.27.3 (fetched through the module proxy) and run again"
    fi
}

kube_cache() { echo "${ARCA_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arca/kube/$KUBE_VERSION}"; }
kube_bin() { echo "$(kube_cache)/bin"; }

print_versions() {
    local bin=$1
    say "kube-apiserver: $("$bin/kube-apiserver" --version 2>&1 | head -1)"
    say "kube-controller-manager: $("$bin/kube-controller-manager" --version 2>&1 | head -1)"
    say "kubectl: $("$bin/kubectl" version --client 2>&1 | head -1)"
    say "etcd: $("$bin/etcd" -version 2>&1 | head -1)"
    say "helm: $("$bin/helm" version --short 2>&1 | head -1)"
}

# Where a running control plane lives (state, certificates, logs).
kube_dir() { echo "${ARCA_KUBE_DIR:-${TMPDIR:-/tmp}/arca-kube-$(id -u)}"; }

# True when every process of the control plane in $1 is alive.
kube_running() {
    local dir=$1 name
    for name in etcd kube-apiserver kube-controller-manager; do
        [ -f "$dir/$name.pid" ] && kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null || return 1
    done
}

# The lines a shell evals to use the control plane in $1.
print_env() {
    echo "export KUBECONFIG=$1/kubeconfig"
    echo "export PATH=$(kube_bin):\$PATH"
}
