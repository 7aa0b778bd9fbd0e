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
        .unwrap_or_else(assent_client::account::Profile::default_dir);
    let result = match args.command {
        Some(Command::Demo(a)) => cli::demo::run(a),
        Some(Command::Recordings(c)) => cli::recordings::run(&profile, c),
        Some(Command::Account(c)) => cli::account::run(&profile, c),
        Some(Command::Meeting(c)) => cli::call::run_meeting(&profile, c),
        Some(Command::Call(a)) => cli::call::run_call(&profile, a),
        Some(Command::Devices { json }) => cli::call::run_devices(json),
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
            ui::run(profile)
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
