//! The `driftgate` binary: parse the command line and run it.

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // exactly one rustls crypto provider for the whole process (TLS serving and Git over HTTPS)
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    driftgate::cli::main()
}
