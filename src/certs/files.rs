//! Which files a `driftgate certs` run writes into its folder, and when it may replace one that
//! is already there: a CA is never replaced by accident, because replacing it changes the caBundle.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// The CA certificate: what the caBundle holds.
pub const CA_CERT: &str = "ca.crt";
/// The CA key, kept to re-issue serving certificates under the same CA.
pub const CA_KEY: &str = "ca.key";
/// The serving certificate.
pub const TLS_CERT: &str = "tls.crt";
/// The serving key.
pub const TLS_KEY: &str = "tls.key";

/// What a run may replace of what the folder already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Nothing: the default.
    Nothing,
    /// tls.crt and tls.key only (`--renew`).
    Serving,
    /// Everything (`--force`).
    Everything,
}

/// Whether a file belongs to the CA or to the serving certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// ca.crt or ca.key.
    Ca,
    /// tls.crt or tls.key.
    Serving,
}

/// One file a run means to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Its name in the folder.
    pub name: &'static str,
    /// Its text.
    pub contents: String,
    /// Whether only the owner may read it (mode 0600).
    pub private: bool,
    /// What it belongs to.
    pub role: Role,
}

/// What the folder holds under a planned file's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Present {
    /// Nothing.
    Missing,
    /// A file with exactly the planned contents.
    Same,
    /// A file with other contents.
    Different,
}

/// Why a run stops before writing anything.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{path} already exists; {hint}")]
pub struct Refusal {
    /// The file that would have been replaced.
    pub path: PathBuf,
    /// How to go on.
    pub hint: &'static str,
}

/// The files to write, in order, or the first file that `replace` does not allow to replace. A
/// file that already holds exactly the planned contents is left alone.
pub fn to_write(dir: &Path, files: Vec<(Output, Present)>, replace: Replace) -> Result<Vec<Output>, Refusal> {
    let mut writes = Vec::with_capacity(files.len());
    for (file, present) in files {
        match present {
            Present::Missing => writes.push(file),
            Present::Same => {}
            Present::Different => match (replace, file.role) {
                (Replace::Everything, _) | (Replace::Serving, Role::Serving) => writes.push(file),
                (Replace::Nothing, Role::Serving) => {
                    return Err(refusal(
                        dir,
                        file.name,
                        "pass --renew to re-issue tls.crt and tls.key under the same CA (the caBundle stays), \
                         or --force to replace everything",
                    ));
                }
                (Replace::Nothing, Role::Ca) => {
                    return Err(refusal(
                        dir,
                        file.name,
                        "pass --renew to keep this CA and re-issue tls.crt and tls.key under it, or --force to \
                         replace the CA (the caBundle changes; see certs/README.md for rotating it)",
                    ));
                }
                (Replace::Serving, Role::Ca) => {
                    return Err(refusal(
                        dir,
                        file.name,
                        "it holds another CA than --ca-cert and --renew never replaces a CA: drop --renew and \
                         pass --force to switch CAs (the caBundle changes)",
                    ));
                }
            },
        }
    }
    Ok(writes)
}

fn refusal(dir: &Path, name: &str, hint: &'static str) -> Refusal {
    Refusal { path: dir.join(name), hint }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(name: &'static str, role: Role) -> Output {
        Output { name, contents: format!("{name} text"), private: false, role }
    }

    fn all(present: [Present; 4]) -> Vec<(Output, Present)> {
        let files =
            [out(CA_CERT, Role::Ca), out(CA_KEY, Role::Ca), out(TLS_CERT, Role::Serving), out(TLS_KEY, Role::Serving)];
        files.into_iter().zip(present).collect()
    }

    fn names(writes: &[Output]) -> Vec<&str> {
        writes.iter().map(|w| w.name).collect()
    }

    #[test]
    fn an_empty_folder_gets_every_file() {
        let w = to_write(Path::new("d"), all([Present::Missing; 4]), Replace::Nothing).unwrap();
        assert_eq!(names(&w), [CA_CERT, CA_KEY, TLS_CERT, TLS_KEY]);
    }

    #[test]
    fn nothing_is_replaced_by_default_and_the_refusal_names_the_file() {
        let e = to_write(
            Path::new("d"),
            all([Present::Missing, Present::Missing, Present::Different, Present::Missing]),
            Replace::Nothing,
        )
        .unwrap_err();
        assert_eq!(e.path, Path::new("d").join(TLS_CERT));
        assert!(e.to_string().starts_with(&format!("{} already exists; pass --renew", e.path.display())));
        let e = to_write(Path::new("d"), all([Present::Different; 4]), Replace::Nothing).unwrap_err();
        assert_eq!(e.path, Path::new("d").join(CA_CERT));
        assert!(e.to_string().contains("--force to replace the CA"));
    }

    #[test]
    fn force_replaces_everything() {
        let w = to_write(Path::new("d"), all([Present::Different; 4]), Replace::Everything).unwrap();
        assert_eq!(names(&w), [CA_CERT, CA_KEY, TLS_CERT, TLS_KEY]);
    }

    #[test]
    fn renew_replaces_the_serving_files_but_never_a_different_ca() {
        let serving =
            vec![(out(TLS_CERT, Role::Serving), Present::Different), (out(TLS_KEY, Role::Serving), Present::Different)];
        let w = to_write(Path::new("d"), serving, Replace::Serving).unwrap();
        assert_eq!(names(&w), [TLS_CERT, TLS_KEY]);
        let e = to_write(Path::new("d"), all([Present::Different; 4]), Replace::Serving).unwrap_err();
        assert_eq!(e.path, Path::new("d").join(CA_CERT));
        assert!(e.to_string().contains("--renew never replaces a CA"));
    }

    #[test]
    fn identical_files_are_left_alone() {
        let w = to_write(
            Path::new("d"),
            all([Present::Same, Present::Missing, Present::Missing, Present::Missing]),
            Replace::Nothing,
        )
        .unwrap();
        assert_eq!(names(&w), [CA_KEY, TLS_CERT, TLS_KEY]);
    }
}
