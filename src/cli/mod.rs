//! The command line: one file per command. This is the only layer that prints or exits.
//!
//! Exit codes follow `kubectl diff`: 0 in sync (or success), 1 drift, 2 error.

mod certs;
mod diff;
mod events;
mod heal;
mod live;
mod render;
mod review;
mod serve;
mod server_client;
mod source;
mod status;
mod watch;
mod webhook_config;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Keeps a Kubernetes cluster honest to Git.
#[derive(Debug, Parser)]
#[command(name = "driftgate", version, about)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the rendered manifests of a folder.
    Render(render::RenderArgs),
    /// Compare live objects with the desired state. Exit 0 in sync, 1 drift, 2 error.
    Diff(diff::DiffArgs),
    /// Serve the admission webhook over TLS (POST /validate, /healthz, /readyz, /metrics), the
    /// drift detector when a cluster is configured, and its status API (/api/v1/sources).
    Serve(serve::ServeArgs),
    /// Show each source's drift as a table: from a running server, or computed once.
    Status(status::StatusArgs),
    /// Put drifted objects back once (`--once`), or print the plan (`--dry-run`).
    Heal(heal::HealArgs),
    /// Write a CA and a serving certificate for the webhook Service; print the caBundle.
    Certs(certs::CertsArgs),
    /// Decide one AdmissionReview offline and print the response the webhook would send.
    Review(review::ReviewArgs),
    /// Load the config's sources and follow their Git revisions, printing a JSON line per change.
    Watch(watch::WatchArgs),
    /// Read the audit stream of a running server: recent events, and new ones with --follow.
    Events(events::EventsArgs),
    /// Print the ValidatingWebhookConfiguration that sends driftgate exactly what the sources
    /// declare: their resources and namespaces, never the system ones or the reconcilers' requests.
    WebhookConfig(webhook_config::WebhookConfigArgs),
}

/// When to colour output.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum ColorChoice {
    /// When stdout is a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    fn enabled(self) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

/// Exit code for success and "in sync".
pub const EXIT_OK: u8 = 0;
/// Exit code for "drift found".
pub const EXIT_DRIFT: u8 = 1;
/// Exit code for any error.
pub const EXIT_ERROR: u8 = 2;

/// Parses the command line, runs the command, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Render(args) => render::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Watch(args) => watch::run(&args),
        Command::Events(args) => events::run(&args),
        Command::Review(args) => review::run(&args),
        Command::Certs(args) => certs::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Heal(args) => heal::run(&args),
        Command::WebhookConfig(args) => webhook_config::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        // a closed pipe (`driftgate render | head`) is the reader's choice, not an error
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::from(EXIT_OK)
        }
        Err(e) => {
            // errors from crates (reqwest, kube) may quote a URL with its credentials
            eprintln!("error: {}", crate::redact::text(&message(&e)));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// An error and its causes on one line, each said once: library errors that name their source
/// in their own message are not repeated by the chain.
fn message(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
