//! The upstream of the latency, connection-rate, idle and traffic figures:
//! echoes whatever it reads, on one thread (like an epoll loop). A
//! connection owns no buffer while idle: it waits for readability, then
//! reads into the thread's one buffer.

use std::cell::RefCell;
use std::io;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

thread_local! {
    static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; 64 * 1024]);
}

pub fn run(port: u16) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        // A deep accept queue, as a real server has: 1,000 connections
        // opened at once (replay, traffic) must not meet SYN drops and their
        // 1 s retransmission, which would show up as the proxy's lateness.
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(([127, 0, 0, 1], port).into())?;
        let listener = socket.listen(4096)?;
        loop {
            let (s, _) = listener.accept().await?;
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let _ = serve(s).await;
            });
        }
    })
}

async fn serve(mut s: TcpStream) -> io::Result<()> {
    loop {
        s.readable().await?;
        let got = BUF.with(|b| {
            let mut b = b.borrow_mut();
            match s.try_read(&mut b) {
                Ok(0) => Ok(None),
                Ok(n) => match s.try_write(&b[..n]) {
                    // Whatever the socket did not take now is sent below.
                    Ok(w) if w == n => Ok(Some(Vec::new())),
                    Ok(w) => Ok(Some(b[w..n].to_vec())),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Some(b[..n].to_vec())),
                    Err(e) => Err(e),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Some(Vec::new())),
                Err(e) => Err(e),
            }
        })?;
        match got {
            None => return Ok(()),
            Some(rest) if !rest.is_empty() => s.write_all(&rest).await?,
            Some(_) => {}
        }
    }
}
