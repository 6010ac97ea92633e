//! Resolves a revision of a local repository and reads every file below a path into memory,
//! as driftgate does before rendering. Prints the file count and bytes. Used by
//! `benches/git-tree.sh` against `git archive REV | tar -x`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let repo = args.next().expect("usage: read_tree REPO REV [PATH]");
    let rev = args.next().expect("usage: read_tree REPO REV [PATH]");
    let path = args.next().unwrap_or_default();
    let remote = driftgate::git::Remote { url: repo, token: None };
    let checkout = driftgate::git::checkout(&remote, &rev, Path::new("/nonexistent"), Duration::from_secs(60)).unwrap();
    let files = checkout.read_all(Path::new(&path)).unwrap();
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    println!("{} files, {bytes} bytes, commit {}", files.len(), checkout.commit());
}
