//! `driftgate watch`: load every source, then poll Git sources at their `git.interval`, printing
//! one JSON line per change (a new commit swapped in, or a failure that keeps the last good state).

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::bail;
use clap::Args;

use crate::config::Config;
use crate::desired::{self, Event, Store};

/// Arguments of `watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The config file whose sources to load.
    #[arg(long, env = "DRIFTGATE_CONFIG")]
    pub config: PathBuf,
    /// Load every source once and exit: 0 if all loaded, 2 if any failed.
    #[arg(long)]
    pub once: bool,
    /// Git flags (cache folder, timeout).
    #[command(flatten)]
    pub git: super::source::GitArgs,
}

fn print(event: &Event) {
    let mut out = std::io::stdout().lock();
    if let Ok(line) = serde_json::to_string(event) {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Runs `watch`.
pub fn run(args: &WatchArgs) -> anyhow::Result<u8> {
    let config = Arc::new(Config::load(&args.config)?);
    if config.sources.is_empty() {
        bail!("{}: the config has no sources", args.config.display());
    }
    let options = args.git.options();
    let store = Arc::new(Store::new());
    let mut failed = false;
    for src in &config.sources {
        if let Some(event) = desired::refresh(&config, &src.name, &store, &options) {
            failed |= matches!(event, Event::Failed { .. });
            print(&event);
        }
    }
    if args.once {
        return Ok(if failed { super::EXIT_ERROR } else { super::EXIT_OK });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let handle = desired::spawn_poller(Arc::clone(&config), store, options, stop, |e| print(&e))?;
    // runs until interrupted; the poller thread never finishes on its own
    let _ = handle.join();
    Ok(super::EXIT_OK)
}
