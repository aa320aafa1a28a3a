//! `corpusminer`: mines a math corpus out of Common Crawl (arXiv 2402.03300 §2.1).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = corpusminer_cli::Cli::parse();
    corpusminer_cli::init_logging(cli.verbose);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(corpusminer_cli::execute(cli)) {
        Ok(finished) => std::process::ExitCode::from(finished.exit_code()),
        Err(e) => {
            // Each cause once: contexts and errors that print their source repeat it otherwise.
            eprintln!("error: {}", corpusminer_storage::join_causes(e.chain()));
            std::process::ExitCode::FAILURE
        }
    }
}
