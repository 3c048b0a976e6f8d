//! `gatewayd`: the SIP ↔ ISDN PRI gateway daemon and its tools.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use gateway::config::Config;
use gateway::daemon::{self, Source};

#[derive(Parser)]
#[command(
    name = "gatewayd",
    version,
    about = "SIP ↔ E1/T1 ISDN PRI media gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the gateway (the embedded default configuration when no file is given: one
    /// simulated E1 to a simulated PSTN switch).
    Run {
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// Check a configuration file; errors name file, line and field.
    CheckConfig { file: PathBuf },
    /// Turn Asterisk's DAHDI configuration into ours (TOML on standard output).
    ImportDahdi {
        system_conf: PathBuf,
        chan_dahdi_conf: PathBuf,
    },
    /// Talk to a running gatewayd over its control socket, e.g. `ctl show calls`.
    Ctl {
        /// Control socket (default: the one of the configuration, or of the embedded default).
        #[arg(short, long)]
        socket: Option<PathBuf>,
        /// Configuration file to take the socket path from.
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// The command: show spans|channels|calls|trunk-groups|sim-calls, channel S:T
        /// out|in, span S out|in, hangup CALL, reload, simcall SPAN NUMBER (then HOLD_MS, optional).
        #[arg(required = true, trailing_var_arg = true)]
        words: Vec<String>,
    },
    /// Which tones a WAV recording (16-bit PCM) carries and for how long, e.g. what a SIP
    /// phone recorded from a call through the gateway: one `FREQ Hz MS ms` line per tone.
    Tones { wav: PathBuf },
}

/// `check-config`: the report printed and whether the file is valid.
fn check_config(file: &Path) -> (String, bool) {
    match Config::load(file) {
        Ok(c) => (
            format!(
                "{}: ok ({} spans, {} trunk groups, {} SIP trunks, {} routes)\n",
                file.display(),
                c.spans.len(),
                c.trunk_groups.len(),
                c.sip_trunks.len(),
                c.routes.len()
            ),
            true,
        ),
        Err(e) => (format!("{e}\n"), false),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: under systemd or a redirect they would land in
        // the journal or the file as escape sequences.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        Cmd::Run { config } => {
            let source = config.map_or(Source::Embedded, Source::File);
            // The media threads own the TDM tick: a page fault in a tick makes it late.
            // Locked where permitted (root or an unlimited RLIMIT_MEMLOCK), as tdm-sim
            // does; refused is a warning, not an error.
            if tdm_sim::rt::enter_locked_memory("gatewayd") {
                tracing::info!("memory locked (mlockall)");
            }
            match daemon::limits::raise_open_files() {
                Ok((before, after)) if after > before => {
                    tracing::info!(before, after, "open files limit raised")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "open files limit not raised"),
            }
            let rt = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("gatewayd: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(daemon::run(source)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("gatewayd: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::CheckConfig { file } => {
            let (report, ok) = check_config(&file);
            if ok {
                print!("{report}");
                ExitCode::SUCCESS
            } else {
                eprint!("{report}");
                ExitCode::FAILURE
            }
        }
        Cmd::ImportDahdi {
            system_conf,
            chan_dahdi_conf,
        } => {
            let read =
                |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
            let result = read(&system_conf).and_then(|s| {
                read(&chan_dahdi_conf)
                    .and_then(|c| gateway::import_dahdi::import(&s, &c).map_err(|e| e.to_string()))
            });
            match result {
                Ok(toml) => {
                    print!("{toml}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("gatewayd import-dahdi: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Tones { wav } => {
            let tones = std::fs::read(&wav)
                .map_err(|e| e.to_string())
                .and_then(|b| daemon::sim::wav_tones(&b));
            match tones {
                Ok(t) => {
                    for (hz, ms) in t {
                        println!("{hz} Hz {ms} ms");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{}: {e}", wav.display());
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Ctl {
            socket,
            config,
            words,
        } => {
            let socket = match socket {
                Some(s) => s,
                None => {
                    let source = config.map_or(Source::Embedded, Source::File);
                    match source.load() {
                        Ok(c) => PathBuf::from(c.general.control_socket),
                        Err(e) => {
                            eprintln!("gatewayd ctl: {e}");
                            return ExitCode::FAILURE;
                        }
                    }
                }
            };
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("gatewayd ctl: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(gateway::ctl::socket::request(&socket, &words.join(" "))) {
                Ok(answer) => {
                    print!("{answer}");
                    if answer.starts_with("error") {
                        ExitCode::FAILURE
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    eprintln!("gatewayd ctl: {}: {e}", socket.display());
                    ExitCode::FAILURE
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every example configuration passes `check-config`.
    #[test]
    fn examples_pass_check_config() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                let (report, ok) = check_config(&p);
                assert!(ok, "{report}");
                n += 1;
            }
        }
        assert!(n >= 4, "expected the four use-case examples, found {n}");
    }

    #[test]
    fn check_config_names_line_and_field() {
        let dir = std::env::temp_dir().join(format!("gatewayd-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.toml");
        std::fs::write(
            &f,
            "[[span]]\nid = 1\ntype = \"e1\"\nsignalling = \"pri_cpe\"\n\n[[trunk_group]]\n\
             name = \"pstn\"\nmembers = [{ span = 7 }]\n",
        )
        .unwrap();
        let (report, ok) = check_config(&f);
        assert!(!ok);
        assert!(report.contains("bad.toml:8"), "{report}");
        assert!(
            report.contains("trunk_group[0].members[0].span"),
            "{report}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
