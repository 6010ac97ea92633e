//! Drift: normalisation, comparison on declared fields, ignore rules and reports.

pub mod compare;
pub mod defaults;
pub mod ignore;
pub mod jq;
pub mod managed_fields;
pub mod mask;
pub mod merge_keys;
pub mod normalise;
pub mod patch;
pub mod path;
pub mod quantity;
pub mod report;
pub mod selector;
pub mod text;
