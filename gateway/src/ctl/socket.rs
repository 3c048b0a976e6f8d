//! The Unix socket: the daemon's listener and the `gatewayd ctl` client.

use std::path::Path;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Send one command line and read the whole answer.
pub async fn request(path: &Path, line: &str) -> std::io::Result<String> {
    let mut s = UnixStream::connect(path).await?;
    s.write_all(line.as_bytes()).await?;
    s.write_all(b"\n").await?;
    s.shutdown().await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

/// Accept connections forever, answering each command line with what `handle` gives.
pub async fn serve<F, A>(listener: UnixListener, handle: F)
where
    F: Fn(String) -> A + Send + Sync + 'static,
    A: std::future::Future<Output = String> + Send + 'static,
{
    let handle = std::sync::Arc::new(handle);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut line = String::new();
            if BufReader::new(r).read_line(&mut line).await.is_ok() {
                let answer = handle(line.trim().to_string()).await;
                let _ = w.write_all(answer.as_bytes()).await;
                let _ = w.shutdown().await;
            }
        });
    }
}

/// Bind the socket, replacing a stale one left by a previous run.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    if path.exists() && std::os::unix::net::UnixStream::connect(path).is_err() {
        std::fs::remove_file(path)?;
    }
    UnixListener::bind(path)
}
