//! `meridian serve` runs the server; `meridian openapi` prints the OpenAPI document.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use meridian::app::demo;
use meridian::config::Config;
use meridian::startup::{Application, system_clock};

#[derive(Parser)]
#[command(name = "meridian", version, about = "Meridian: the integrated business core")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server (the default). Configuration comes from the environment; see README.
    Serve,
    /// Print the OpenAPI 3.1 document to standard output.
    Openapi,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => match meridian::api::openapi().to_pretty_json() {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cannot render the OpenAPI document: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Serve => serve(),
    }
}

fn serve() -> ExitCode {
    meridian::telemetry::init();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = actix_web::rt::System::new().block_on(async move {
        let seed = config.seed_demo;
        let app = Application::build(config, system_clock()).await?;
        let url = format!("http://{}", app.state.config.bind.ip()).to_owned() + &format!(":{}", app.port);
        println!("Meridian is listening on {url}  (admin portal: {url}/admin, API docs: {url}/docs)");
        if seed {
            println!(
                "Demo tenant: log in with POST {url}/api/v1/auth/login\n  {{\"tenant\": \"{}\", \"email\": \"{}\", \"password\": \"{}\"}}",
                demo::DEMO_SLUG, demo::DEMO_EMAIL, demo::DEMO_PASSWORD
            );
        }
        app.run_until_stopped().await.map_err(|e| meridian::startup::StartError::Bind { addr: url, source: e })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meridian: {e}");
            ExitCode::FAILURE
        }
    }
}
