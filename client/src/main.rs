//! `assent`: the desktop app and its headless command line.
//!
//! With no subcommand it will open the window (the desktop UI issue); the subcommands give a
//! headless CLI that scripts and tests drive.

mod cli;

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
            eprintln!(
                "assent {}: the desktop window is not built yet; try `assent demo` or `assent --help`",
                env!("CARGO_PKG_VERSION")
            );
            return std::process::ExitCode::from(2);
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
