//! `livescan-receiver`: the server side of livescan's uploads (UForge scan endpoints and
//! livescan's overlay chunk protocol), for tests, demos and self-hosting.
//!
//! ```text
//! livescan-receiver serve --listen 127.0.0.1:8080 --data DIR [--workers N]
//! livescan-receiver user add NAME --data DIR        (password read from stdin)
//! ```

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "livescan-receiver",
    version,
    about = "Receive livescan scans and overlays"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the API under /api
    Serve {
        /// Address to listen on; port 0 picks a free port (printed on stdout)
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 8)]
        workers: usize,
    },
    /// Manage accounts
    User {
        #[command(subcommand)]
        action: UserCmd,
    },
    /// Manage UForge-style API keys
    Apikey {
        #[command(subcommand)]
        action: ApikeyCmd,
    },
}

#[derive(Subcommand)]
enum ApikeyCmd {
    /// Create a key pair for NAME; prints "PUBLIC SECRET" on stdout (the only time the
    /// secret is shown)
    Add {
        name: String,
        #[arg(long)]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add or replace a user; the password is read from standard input (first line)
    Add {
        name: String,
        #[arg(long)]
        data: PathBuf,
    },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match Cli::parse().command {
        Cmd::Serve {
            listen,
            data,
            workers,
        } => {
            let receiver = match livescan::receiver::Receiver::open(&data) {
                Ok(r) => Arc::new(r),
                Err(e) => {
                    eprintln!("livescan-receiver: {}: {e}", data.display());
                    return ExitCode::FAILURE;
                }
            };
            let server = match tiny_http::Server::http(&listen) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    eprintln!("livescan-receiver: listen {listen}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            // Tests and scripts read the real address (port 0) from here.
            println!("listening on http://{}/api", server.server_addr());
            receiver.serve(server, workers);
            ExitCode::SUCCESS
        }
        Cmd::Apikey {
            action: ApikeyCmd::Add { name, data },
        } => match livescan::receiver::auth::add_api_key(&data, &name) {
            Ok((public, secret)) => {
                println!("{public} {secret}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("livescan-receiver: {e}");
                ExitCode::FAILURE
            }
        },
        Cmd::User {
            action: UserCmd::Add { name, data },
        } => {
            let mut input = String::new();
            if std::io::stdin()
                .take(4096)
                .read_to_string(&mut input)
                .is_err()
            {
                eprintln!("livescan-receiver: cannot read the password from stdin");
                return ExitCode::FAILURE;
            }
            let password = input.lines().next().unwrap_or("");
            if password.is_empty() {
                eprintln!("livescan-receiver: empty password");
                return ExitCode::FAILURE;
            }
            match livescan::receiver::auth::add_user(&data, &name, password.as_bytes()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("livescan-receiver: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
