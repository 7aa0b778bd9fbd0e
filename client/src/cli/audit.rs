//! `assent audit --server URL`: check that a server's key directory only ever grows.

use std::path::PathBuf;
use std::process::ExitCode;

use assent_engine::Api;
use clap::Args;
use serde_json::json;

#[derive(Args, Debug)]
pub(crate) struct AuditArgs {
    /// The server's base URL, e.g. https://assent.example.org.
    #[arg(long)]
    server: String,
    /// Where the auditor keeps what it has verified (default: audit-<host>.json in the
    /// current directory). Keep it: the next run continues from it.
    #[arg(long)]
    state: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn default_state(server: &str) -> PathBuf {
    let host: String = server
        .split("://")
        .nth(1)
        .unwrap_or(server)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(format!("audit-{host}.json"))
}

pub(crate) fn run(a: AuditArgs) -> anyhow::Result<ExitCode> {
    let rt = super::account::runtime()?;
    let path = a.state.unwrap_or_else(|| default_state(&a.server));
    rt.block_on(async move {
        let api = Api::new(&a.server)?;
        let state = assent_engine::load_state(&path)?;
        if let Some(s) = &state
            && s.server.trim_end_matches('/') != api.base()
        {
            anyhow::bail!(
                "{} holds the audit of {}, not {}",
                path.display(),
                s.server,
                api.base()
            );
        }
        match assent_engine::audit(&api, state, |s| assent_engine::save_state(&path, s)).await {
            Ok((_, report)) => {
                if a.json {
                    println!("{}", json!({"ok": true, "report": report}));
                } else {
                    println!(
                        "{}: the directory only grew from epoch {} to epoch {} ({} step(s) verified; directory keys {})",
                        api.base(),
                        report.from_epoch,
                        report.to_epoch,
                        report.verified_steps,
                        report.keys_fingerprint
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                let evidence = match &e {
                    assent_engine::AuditError::Rewritten { evidence, .. } => {
                        serde_json::to_value(evidence.as_ref()).ok()
                    }
                    _ => None,
                };
                if a.json {
                    println!("{}", json!({"ok": false, "error": e.to_string(), "evidence": evidence}));
                } else {
                    eprintln!("AUDIT FAILED: {e}");
                    if let Some(ev) = evidence {
                        eprintln!("evidence: {ev}");
                    }
                }
                Ok(ExitCode::from(1))
            }
        }
    })
}
