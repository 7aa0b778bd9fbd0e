//! `assent-rendezvous`: the server. Accounts, signaling, the key directory and the recordings
//! registry arrive with the rendezvous issue; for now the binary reports its version.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version") | Some("-V") => {
            println!("assent-rendezvous {}", env!("CARGO_PKG_VERSION"));
            std::process::ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "assent-rendezvous {}: the server is not built yet (only --version works)",
                env!("CARGO_PKG_VERSION")
            );
            std::process::ExitCode::from(2)
        }
    }
}
