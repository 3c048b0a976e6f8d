//! The Unix socket: the daemon's listener and the `gatewayd ctl` client.

use std::path::Path;
use std::time::Duration;

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

/// The longest command line read: every command is a few words.
pub const MAX_LINE: u64 = 4096;
/// How long a client may take to send its line.
pub const READ_WAIT: Duration = Duration::from_secs(5);

/// Accept connections forever, answering each command line with what `handle` gives.
/// A client is read for one line of at most [`MAX_LINE`] octets within [`READ_WAIT`];
/// a longer line is answered with an error, a silent client is let go.
pub async fn serve<F, A>(listener: UnixListener, handle: F)
where
    F: Fn(String) -> A + Send + Sync + 'static,
    A: std::future::Future<Output = String> + Send + 'static,
{
    let handle = std::sync::Arc::new(handle);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                pause_after_accept_error("control socket", e).await;
                continue;
            }
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut line = String::new();
            // The line, its newline, and one octet more to tell a longer one.
            let mut reader = BufReader::new(r.take(MAX_LINE + 2));
            let read = reader.read_line(&mut line);
            let answer = match tokio::time::timeout(READ_WAIT, read).await {
                Ok(Ok(_)) if line.trim_end_matches(['\r', '\n']).len() as u64 > MAX_LINE => {
                    format!("error: command line longer than {MAX_LINE} octets\n")
                }
                Ok(Ok(_)) => handle(line.trim().to_string()).await,
                Ok(Err(e)) => format!("error: {e}\n"),
                Err(_) => return,
            };
            let _ = w.write_all(answer.as_bytes()).await;
            let _ = w.shutdown().await;
        });
    }
}

/// After a failed `accept` on `what`'s listener: out of descriptors (EMFILE) and the
/// like come back at once until something is closed, so the loop pauses rather than
/// spins.
pub(crate) async fn pause_after_accept_error(what: &str, e: std::io::Error) {
    tracing::warn!(error = %e, "{what}: accept");
    tokio::time::sleep(Duration::from_millis(100)).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A command is answered; a line longer than any command is refused with an error,
    /// not read without end.
    #[tokio::test]
    async fn a_line_longer_than_any_command_is_refused() {
        let dir = std::env::temp_dir().join(format!("gw-ctl-{}", std::process::id()));
        let path = dir.join("ctl.sock");
        let listener = bind(&path).unwrap();
        tokio::spawn(serve(listener, |line: String| async move {
            format!("got {} octets\n", line.len())
        }));
        assert_eq!(
            request(&path, "show spans").await.unwrap(),
            "got 10 octets\n"
        );
        let long = "x".repeat(MAX_LINE as usize * 4);
        // The server reads MAX_LINE + 1 octets of it, answers and closes with the rest
        // unread, which the client may see as a reset before the answer.
        match request(&path, &long).await {
            Ok(answer) => assert!(answer.starts_with("error: command line longer"), "{answer}"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
        let edge = "y".repeat(MAX_LINE as usize);
        assert_eq!(
            request(&path, &edge).await.unwrap(),
            format!("got {MAX_LINE} octets\n")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
