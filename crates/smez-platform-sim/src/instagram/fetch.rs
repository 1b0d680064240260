//! A container made from a `video_url`: the simulator fetches the file
//! itself, as Meta does, streaming it to the container's temp file.

use super::*;

/// Fetches `http://` URLs (the simulator speaks no TLS) to `path`, streaming;
/// the byte count, or why it failed.
pub(super) async fn fetch(url: &url::Url, path: &FsPath) -> Result<u64, String> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    if url.scheme() != "http" {
        return Err("the simulator fetches http:// URLs only".into());
    }
    let host = url.host_str().ok_or("no host")?.to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    let mut stream = tokio::time::timeout(std::time::Duration::from_secs(10), connect)
        .await
        .map_err(|_| "connection timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let request = format!(
        "GET {target} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: facebookexternalhit/1.1\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut reader = tokio::io::BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).await.map_err(|e| e.to_string())?;
    let code = status.split_whitespace().nth(1).and_then(|c| c.parse::<u16>().ok());
    if code != Some(200) {
        return Err(format!(
            "HTTP {}",
            code.map(|c| c.to_string()).unwrap_or_else(|| "?".into())
        ));
    }
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).await.map_err(|e| e.to_string())?;
        if n == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut file = tokio::fs::File::create(path).await.map_err(|e| e.to_string())?;
    let size = tokio::io::copy(&mut reader.take(MAX_FILE_BYTES + 1), &mut file)
        .await
        .map_err(|e| e.to_string())?;
    file.flush().await.map_err(|e| e.to_string())?;
    Ok(size)
}
