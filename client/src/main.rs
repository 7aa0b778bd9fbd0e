//! `assent`: the desktop app and its headless command line.
//!
//! With no subcommand it opens the window; the subcommands give a headless CLI that scripts
//! and tests drive.

mod cli;
mod ui;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "assent",
    version,
    about = "End-to-end encrypted calls whose recordings need everyone's signed consent"
)]
struct Args {
    /// The profile directory (account settings and local store; default $ASSENT_PROFILE or
    /// ~/.local/share/assent). Secrets are in the system keyring, not here.
    #[arg(long, global = true)]
    profile: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
    /// An `assent://join/CODE` link to open in the window (what the desktop's link handler
    /// passes): the meeting is looked up and shown, ready to join.
    #[arg(value_name = "LINK")]
    link: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// A local walk-through of consented recording: identities, proposal, tokens, a newcomer,
    /// a withdrawal, and the encrypted recording it leaves, verified.
    Demo(cli::demo::DemoArgs),
    /// Recordings on disk: verify, export.
    #[command(subcommand)]
    Recordings(cli::recordings::RecordingsCommand),
    /// Your account: sign up, verify, sign in, sign out, show.
    #[command(subcommand)]
    Account(cli::account::AccountCommand),
    /// Meetings: create one and get its join code.
    #[command(subcommand)]
    Meeting(cli::call::MeetingCommand),
    /// Join a meeting headless (test, file or device media); JSON events on stdout, commands
    /// on stdin.
    Call(cli::call::CallArgs),
    /// Audit a server's key directory: every epoch's signed root chains to the one before and
    /// every step is append-only. Keeps its state (`--state FILE`) to continue next time.
    Audit(cli::audit::AuditArgs),
    /// List cameras, microphones and speakers.
    Devices {
        #[arg(long)]
        json: bool,
    },
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ASSENT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let profile = args
        .profile
        .clone()
        .unwrap_or_else(assent_engine::Session::default_dir);
    let result = match args.command {
        Some(Command::Demo(a)) => cli::demo::run(a),
        Some(Command::Recordings(c)) => cli::recordings::run(&profile, c),
        Some(Command::Account(c)) => cli::account::run(&profile, c),
        Some(Command::Meeting(c)) => cli::call::run_meeting(&profile, c),
        Some(Command::Call(a)) => cli::call::run_call(&profile, a),
        Some(Command::Devices { json }) => cli::call::run_devices(json),
        Some(Command::Audit(a)) => cli::audit::run(a),
        None => {
            // The window needs a display; say so instead of panicking inside the toolkit.
            if std::env::var_os("DISPLAY").is_none()
                && std::env::var_os("WAYLAND_DISPLAY").is_none()
            {
                eprintln!(
                    "assent: no display to open the window on (DISPLAY is not set); the command \
                     line works without one: `assent --help`"
                );
                return std::process::ExitCode::from(2);
            }
            let link = match args.link.as_deref().map(parse_link).transpose() {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("assent: {e}");
                    return std::process::ExitCode::from(2);
                }
            };
            ui::run(profile, link)
                .map_err(anyhow::Error::from)
                .map(|()| std::process::ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The join code in an `assent://join/CODE` link, or why it is not one.
fn parse_link(link: &str) -> Result<String, String> {
    let code = link
        .trim()
        .strip_prefix("assent://join/")
        .map(|c| c.trim_end_matches('/'))
        .ok_or_else(|| format!("{link:?} is not an Assent link (assent://join/CODE)"))?;
    let valid = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!("{link:?} does not hold a meeting code"));
    }
    Ok(code.to_string())
}

#[cfg(test)]
mod tests {
    use super::{Args, Command, parse_link};
    use clap::Parser;

    /// A link is the one positional argument; subcommands and the global `--profile` still
    /// parse as before.
    #[test]
    fn a_link_or_a_subcommand() {
        let a = Args::try_parse_from(["assent", "assent://join/abc-defg-hij"]).unwrap();
        assert_eq!(a.link.as_deref(), Some("assent://join/abc-defg-hij"));
        assert!(a.command.is_none());
        let a = Args::try_parse_from(["assent", "--profile", "/p", "devices", "--json"]).unwrap();
        assert!(matches!(a.command, Some(Command::Devices { json: true })));
        assert!(a.link.is_none());
        let a = Args::try_parse_from(["assent", "account", "show", "--profile", "/p"]).unwrap();
        assert!(matches!(a.command, Some(Command::Account(_))));
        assert_eq!(a.profile.as_deref(), Some(std::path::Path::new("/p")));
    }

    #[test]
    fn links_from_the_desktop_handler() {
        assert_eq!(
            parse_link("assent://join/abc-defg-hij").as_deref(),
            Ok("abc-defg-hij")
        );
        assert_eq!(
            parse_link("assent://join/abc-defg-hij/").as_deref(),
            Ok("abc-defg-hij")
        );
        for bad in [
            "https://example.org/join/x",
            "assent://join/",
            "assent://join/a b",
            "assent://join/..%2f",
            "abc",
        ] {
            assert!(parse_link(bad).is_err(), "{bad}");
        }
    }
}
