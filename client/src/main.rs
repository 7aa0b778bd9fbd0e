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
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Some(Command::Demo(a)) => cli::demo::run(a),
        Some(Command::Recordings(c)) => cli::recordings::run(c),
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
