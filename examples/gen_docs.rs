//! Writes the man page and the shell completions of `livescan`, generated from its clap
//! definition (so they cannot drift from `--help`), into the directory given as argument:
//! `livescan.1` plus one `livescan.1`-style page per subcommand (`livescan-scan.1`, …),
//! `livescan.bash`, `_livescan` (zsh) and `livescan.fish`. Run by packaging/build.sh:
//! `cargo run --example gen_docs -- dist/doc`.

use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: gen_docs DIR");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&dir)?;
    let cmd = livescan::cli::Cli::command();
    // livescan.1 and livescan-SUB.1 (and livescan-config-check.1) for every subcommand.
    clap_mangen::generate_to(cmd.clone(), &dir)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "livescan", &dir)?;
    }
    Ok(())
}
