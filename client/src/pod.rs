//! Where the kubelet puts a pod's service-account credentials: what the
//! server (the kubernetes auth method's local reviewer), the agent (its
//! kubernetes auto-auth) and the injector agree on.

/// The pod's service-account token (a projected, rotated JWT).
pub const TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// The cluster CA that signed the API server's certificate.
pub const CA_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
/// The pod's namespace.
pub const NAMESPACE_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
