//! arca-injector's answers to real AdmissionReviews: the patch applied to
//! the pod the API server sent, the result read back as a k8s-openapi
//! `Pod`, the agent's configuration parsed by arca-agent itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;
mod common;
mod golden;
mod reviews;
