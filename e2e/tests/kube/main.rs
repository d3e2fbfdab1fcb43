//! Arca against a real Kubernetes API server (`e2e/kube/up`, or the
//! cluster `KUBECONFIG` names: `e2e/cluster.sh`). Each test works in a
//! namespace of its own and deletes it, with the cluster-scoped objects it
//! made, at the end.

// Test helpers fail the test by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent;
mod agent_process;
mod arca;
mod injector;
mod kubelet;
mod kubernetes_auth;
mod operator;
mod operator_process;
mod webhook;
