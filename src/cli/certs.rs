//! `driftgate certs`: write a CA and a serving certificate for the webhook Service, and print
//! the base64 caBundle for the ValidatingWebhookConfiguration.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::certs;

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
    /// IP addresses for the serving certificate.
    #[arg(long = "ip")]
    pub ip: Vec<IpAddr>,
    /// Where to write ca.crt, tls.crt and tls.key.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `certs`.
pub fn run(args: &CertsArgs) -> anyhow::Result<u8> {
    let names = certs::service_names(&args.service, &args.namespace, &args.dns);
    let bundle = certs::generate(&format!("{}.{}.svc", args.service, args.namespace), &names, &args.ip)?;
    std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let write = |name: &str, text: &str, private: bool| -> anyhow::Result<()> {
        let path = args.out.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(if private { 0o600 } else { 0o644 });
        }
        let mut f = options.open(&path).with_context(|| path.display().to_string())?;
        f.write_all(text.as_bytes()).with_context(|| path.display().to_string())?;
        Ok(())
    };
    write("ca.crt", &bundle.ca_pem, false)?;
    write("tls.crt", &bundle.cert_pem, false)?;
    write("tls.key", &bundle.key_pem, true)?;
    println!("{}", crate::encoding::base64(bundle.ca_pem.as_bytes()));
    Ok(super::EXIT_OK)
}
