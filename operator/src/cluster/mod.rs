pub mod desired;
pub mod reconcile;
pub mod tls;
