//! The `driftgate` binary: parse the command line and run it.

use std::process::ExitCode;

fn main() -> ExitCode {
    driftgate::cli::main()
}
