//! Kubernetes manifests as plain data: keys, loading from files, scope and ownership markers.

pub mod declared;
pub mod key;
pub mod load;
pub mod ownership;
pub mod scope;

pub use declared::Declared;
pub use key::ResourceKey;
pub use load::{LoadError, Manifest, Origin};
