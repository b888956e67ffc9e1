//! A real redis-server for tests that need a stateful peer, and a minimal
//! RESP client. The server runs with no persistence and is killed by pid.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A redis-server process on 127.0.0.1.
pub struct RedisServer {
    child: Child,
    pub addr: SocketAddr,
}

impl RedisServer {
    /// Starts redis-server on a free port and waits until it answers PING.
    /// Fails the test, naming the package, when redis-server is missing.
    pub async fn start() -> RedisServer {
        let port = super::closed_port().port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): install it with `apt-get install redis-server` (scripts/test.sh does)")
            });
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let server = RedisServer { child, addr };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = RespClient::connect(addr).await
                && c.cmd(&["PING"]).await == "+PONG"
            {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on {addr} did not answer PING within 10s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Just enough RESP for tests: send a command, read one reply as text.
pub struct RespClient {
    r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
}

impl RespClient {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<RespClient> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let (r, w) = s.into_split();
        Ok(RespClient {
            r: BufReader::new(r),
            w,
        })
    }

    /// Sends `args` as a RESP array and returns the reply: simple strings,
    /// errors and integers as their line (`+OK`, `:3`), bulk strings as
    /// their content, arrays as their elements joined by `\n`.
    pub async fn cmd(&mut self, args: &[&str]) -> String {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.w
            .write_all(out.as_bytes())
            .await
            .expect("send to redis");
        Box::pin(self.reply()).await
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        self.r.read_line(&mut line).await.expect("read from redis");
        line.trim_end_matches("\r\n").to_string()
    }

    async fn reply(&mut self) -> String {
        let line = self.line().await;
        match line.as_bytes().first() {
            Some(b'$') => {
                let n: i64 = line[1..].parse().unwrap();
                if n < 0 {
                    return "(nil)".into();
                }
                let mut buf = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut buf).await.unwrap();
                String::from_utf8_lossy(&buf[..n as usize]).into_owned()
            }
            Some(b'*') => {
                let n: i64 = line[1..].parse().unwrap();
                let mut items = Vec::new();
                for _ in 0..n.max(0) {
                    items.push(Box::pin(self.reply()).await);
                }
                items.join("\n")
            }
            _ => line,
        }
    }
}
