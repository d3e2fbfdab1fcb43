#!/usr/bin/env bash
# Arca's Kubernetes tests against any cluster: the one KUBECONFIG names
# (kind, k3d, a cloud cluster), instead of the local control plane that
# scripts/test starts with e2e/kube/up.
#
#   KUBECONFIG=~/.kube/config e2e/cluster.sh            # every Kubernetes test
#   KUBECONFIG=... e2e/cluster.sh kubernetes_auth       # those whose name has this
#   KUBECONFIG=... e2e/cluster.sh scenario              # the operator scenario with real
#                                                       # images and nodes (e2e/scenario.sh)
#
# The tests create namespaces named arca-e2e-<random> (label arca.dev/e2e)
# and a few cluster-scoped objects (a ClusterRoleBinding, a CRD, a webhook
# configuration) named after them, and delete them at the end; `kubectl
# delete ns -l arca.dev/e2e` clears what an interrupted run left. The
# account needs to create those (cluster-admin is simplest).
#
# Arca runs on this machine and must reach the API server. Two checks need
# more of the cluster than its API:
# - the mutating-webhook test needs the API server to reach a webhook on
#   this machine: set ARCA_E2E_WEBHOOK_HOST to an address of this machine it
#   can reach (for kind: the docker network's gateway, `docker network
#   inspect kind -f '{{(index .IPAM.Config 0).Gateway}}'`); without it,
#   that test is not run, and this script says so;
# - the expired-token login needs the cluster's signing key, which only
#   e2e/kube/up's control plane lets a test read: elsewhere that one check
#   is not run, and the test prints so.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ "${1:-}" = scenario ] && exec e2e/scenario.sh

[ -n "${KUBECONFIG:-}" ] || [ -f "$HOME/.kube/config" ] ||
    { echo "e2e/cluster.sh: no KUBECONFIG and no ~/.kube/config: which cluster?" >&2; exit 1; }
filter=("$@")
skip=()
if [ -z "${ARCA_E2E_WEBHOOK_HOST:-}" ] && ! [ -f "$(dirname "${KUBECONFIG:-/nonexistent}")/pki/sa.key" ]; then
    echo "e2e/cluster.sh: ARCA_E2E_WEBHOOK_HOST is not set: the mutating-webhook test is NOT run (the API server cannot reach 127.0.0.1 here)" >&2
    skip=(--skip the_api_server_enforces_a_crd_schema_and_calls_a_mutating_webhook)
fi
# The process-level operator tests play kubelet for the servers' pods: on a
# cluster with nodes the real kubelet runs them (e2e/cluster.sh scenario).
echo "e2e/cluster.sh: the operator_process tests are NOT run (they play kubelet; on a cluster with nodes, run: e2e/cluster.sh scenario)" >&2
skip+=(--skip operator_process)
echo "e2e/cluster.sh: testing against $(kubectl config current-context 2>/dev/null || echo "the cluster of ${KUBECONFIG:-~/.kube/config}")" >&2
exec cargo test -p arca-e2e --features cluster --test kube -- "${filter[@]}" "${skip[@]}"
