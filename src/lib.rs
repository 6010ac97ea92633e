//! driftgate keeps a Kubernetes cluster honest to Git.
//!
//! The crate is split into a pure core and thin shells:
//! - [`model`] loads manifests and keys them;
//! - [`render`] turns a source folder into the desired state;
//! - [`diff`] normalises, compares, applies ignore rules and builds drift reports;
//! - [`detect`] keeps live projections and per-source status (the detector's pure core);
//! - [`cluster`] is the only module that talks to the Kubernetes API;
//! - [`config`] is the typed, validated configuration file;
//! - [`admission`] decides AdmissionReviews; [`server`] serves them, the status API and metrics;
//! - [`access`] decides who may read the HTTP APIs (TokenReview, SubjectAccessReview);
//! - [`redact`] takes credentials out of URLs before anything shows them;
//! - [`heal`] plans self-heal actions; [`audit`] writes the event stream; [`telemetry`] traces;
//! - [`cli`] is the command line, the only place that prints or exits.

pub mod access;
pub mod admission;
pub mod audit;
pub mod certs;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod desired;
pub mod detect;
pub mod diff;
pub mod encoding;
pub mod git;
pub mod heal;
pub mod memory;
pub mod model;
pub mod redact;
pub mod render;
pub mod server;
pub mod telemetry;
