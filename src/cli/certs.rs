//! `driftgate certs`: write a CA (or keep one) and a serving certificate for the webhook Service,
//! and print the base64 caBundle for the ValidatingWebhookConfiguration.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use crate::certs::files::{self, Output, Present, Replace, Role};
use crate::certs::{self, Ca};

/// Arguments of `certs`.
#[derive(Debug, Args)]
pub struct CertsArgs {
    /// The webhook's Service name.
    #[arg(long)]
    pub service: String,
    /// The Service's namespace.
    #[arg(long)]
    pub namespace: String,
    /// Extra DNS names for the serving certificate.
    #[arg(long = "dns")]
    pub dns: Vec<String>,
    /// Extra IP addresses for the serving certificate.
    #[arg(long = "ip")]
    pub ip: Vec<IpAddr>,
    /// Leave localhost, 127.0.0.1 and ::1 out of the serving certificate.
    #[arg(long)]
    pub no_localhost: bool,
    /// Where to write ca.crt, ca.key, tls.crt and tls.key.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace files already in --out; without --ca-cert this makes a new CA (the caBundle changes).
    #[arg(long, conflicts_with = "renew")]
    pub force: bool,
    /// Re-issue tls.crt and tls.key under the CA kept in --out (ca.crt, ca.key) or given by
    /// --ca-cert/--ca-key; the CA and so the caBundle stay as they are.
    #[arg(long)]
    pub renew: bool,
    /// Issue under this CA certificate instead of a new CA; it is copied to --out/ca.crt.
    #[arg(long, requires = "ca_key", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// The private key of --ca-cert (PKCS #8 PEM); it is not copied to --out.
    #[arg(long, requires = "ca_cert", value_name = "FILE")]
    pub ca_key: Option<PathBuf>,
}

/// Runs `certs`.
pub fn run(args: &CertsArgs) -> anyhow::Result<u8> {
    let now = time::OffsetDateTime::now_utc();
    let common_name = format!("{}.{}.svc", args.service, args.namespace);
    let names = certs::serving_names(&args.service, &args.namespace, &args.dns, &args.ip, !args.no_localhost);
    let replace = match (args.force, args.renew) {
        (true, _) => Replace::Everything,
        (false, true) => Replace::Serving,
        (false, false) => Replace::Nothing,
    };

    let mut outputs = Vec::new();
    let ca = match (&args.ca_cert, &args.ca_key) {
        (Some(cert), Some(key)) => {
            let ca = load_ca(cert, key)?;
            outputs.push(output(files::CA_CERT, ca.cert_pem().to_owned(), false, Role::Ca));
            ca
        }
        _ if args.renew => {
            load_ca(&args.out.join(files::CA_CERT), &args.out.join(files::CA_KEY)).with_context(|| {
                format!(
                    "--renew re-issues under the CA kept in {} (a folder made with --ca-cert, or by a driftgate \
                     that did not keep ca.key, has none: give --ca-cert and --ca-key, or make a new CA with \
                     --force and rotate it as certs/README.md says)",
                    args.out.display()
                )
            })?
        }
        _ => {
            let ca = Ca::generate(&common_name, now, certs::random_serial()?)?;
            outputs.push(output(files::CA_CERT, ca.cert_pem().to_owned(), false, Role::Ca));
            outputs.push(output(files::CA_KEY, ca.key_pem(), true, Role::Ca));
            ca
        }
    };
    let serving = ca.issue(&common_name, &names, now, certs::random_serial()?)?;
    outputs.push(output(files::TLS_CERT, serving.cert_pem, false, Role::Serving));
    outputs.push(output(files::TLS_KEY, serving.key_pem, true, Role::Serving));

    std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let mut planned = Vec::with_capacity(outputs.len());
    for file in outputs {
        let present = present(&args.out.join(file.name), &file.contents)?;
        planned.push((file, present));
    }
    let writes = files::to_write(&args.out, planned, replace)?;
    write_all(&args.out, &writes)?;

    let written: Vec<&str> = writes.iter().map(|w| w.name).collect();
    let ca_changed = written.contains(&files::CA_CERT);
    eprintln!(
        "driftgate certs: wrote {} in {}{}",
        written.join(", "),
        args.out.display(),
        if ca_changed { "" } else { "; ca.crt and so the caBundle are unchanged" }
    );
    let kept_key = args.out.join(files::CA_KEY);
    if args.ca_cert.is_some() && ca_changed && kept_key.exists() {
        eprintln!(
            "driftgate certs: warning: {} belongs to the CA that ca.crt held before, not to --ca-cert; delete it",
            kept_key.display()
        );
    }
    println!("{}", crate::encoding::base64(ca.cert_pem().as_bytes()));
    Ok(super::EXIT_OK)
}

fn output(name: &'static str, contents: String, private: bool, role: Role) -> Output {
    Output { name, contents, private, role }
}

fn load_ca(cert: &Path, key: &Path) -> anyhow::Result<Ca> {
    let cert_pem = std::fs::read_to_string(cert).with_context(|| format!("CA certificate {}", cert.display()))?;
    let key_pem = std::fs::read_to_string(key).with_context(|| format!("CA key {}", key.display()))?;
    Ca::load(&cert_pem, &key_pem).with_context(|| format!("CA {} with key {}", cert.display(), key.display()))
}

fn present(path: &Path, contents: &str) -> anyhow::Result<Present> {
    match std::fs::read(path) {
        Ok(bytes) if bytes == contents.as_bytes() => Ok(Present::Same),
        Ok(_) => Ok(Present::Different),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Present::Missing),
        Err(e) => Err(e).with_context(|| path.display().to_string()),
    }
}

/// Writes every file beside its target first and renames them into place only when all are
/// written, so a failure leaves the folder as it was and a key never meets a stranger certificate.
fn write_all(dir: &Path, files: &[Output]) -> anyhow::Result<()> {
    let mut staged = Vec::with_capacity(files.len());
    for file in files {
        let temp = dir.join(format!(".{}.{}.tmp", file.name, std::process::id()));
        if let Err(e) = write_new(&temp, file) {
            let _ = std::fs::remove_file(&temp);
            for t in &staged {
                let _ = std::fs::remove_file(t);
            }
            return Err(e);
        }
        staged.push(temp);
    }
    for (temp, file) in staged.iter().zip(files) {
        let path = dir.join(file.name);
        std::fs::rename(temp, &path).with_context(|| path.display().to_string())?;
    }
    Ok(())
}

fn write_new(path: &Path, file: &Output) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if file.private { 0o600 } else { 0o644 });
    }
    let mut f = options.open(path).with_context(|| path.display().to_string())?;
    f.write_all(file.contents.as_bytes()).with_context(|| path.display().to_string())?;
    f.sync_all().with_context(|| path.display().to_string())?;
    Ok(())
}
