//! What the daemon benchmarks (`bench-gateway`, `bench-h323-gateway`) share: the daemon
//! on a thread, the control socket and the per-thread CPU clock of the process they run
//! the daemon in.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use gateway::daemon::{run_blocking, Source};

/// One `gatewayd ctl` line over the control socket.
pub fn ctl(sock: &Path, line: &str) -> std::io::Result<String> {
    let mut s = UnixStream::connect(sock)?;
    s.write_all(format!("{line}\n").as_bytes())?;
    s.shutdown(std::net::Shutdown::Write)?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// CPU time (ns) of every thread of this process, by thread id, with its name.
pub fn threads_cpu() -> HashMap<u32, (String, u64)> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let p = e.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        let ns = std::fs::read_to_string(p.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        out.insert(tid, (comm.trim().to_string(), ns));
    }
    out
}

/// Run the daemon on `config` on a thread of this process, logging as `gatewayd run` does
/// (info, or `RUST_LOG`) to `dir/gatewayd.log`, as under a service manager. A daemon that
/// fails to start ends the benchmark.
pub fn start_daemon(dir: &Path, config: &Path) {
    let log = std::fs::File::create(dir.join("gatewayd.log")).expect("log file");
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::sync::Mutex::new(log))
        .with_ansi(false)
        .init();
    let p = config.to_path_buf();
    std::thread::Builder::new()
        .name("gatewayd".into())
        .spawn(move || {
            if let Err(e) = run_blocking(Source::File(p)) {
                eprintln!("gatewayd: {e:#}");
                std::process::exit(1);
            }
        })
        .expect("daemon thread");
}
