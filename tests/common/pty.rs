//! A program in a pseudo-terminal, for full-screen commands (`reelctl top`):
//! its output fed to a terminal emulator (vt100) so tests read the screen
//! as a user would, keys written to it, its exit awaited within a bound and
//! the process killed by pid if it overstays (or when the test fails).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

/// A process running in a pseudo-terminal of a fixed size.
pub struct PtyProc {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<vt100::Parser>>,
    /// Kept open: closing it hangs up the program's terminal.
    _master: Box<dyn MasterPty + Send>,
}

impl PtyProc {
    /// Starts `program ARGS` in a `rows` x `cols` terminal, without
    /// `REEL_AGENTS` and `RUST_LOG` from the test's environment.
    pub fn spawn(program: &str, args: &[&str], rows: u16, cols: u16) -> PtyProc {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pseudo-terminal");
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        cmd.env_remove("REEL_AGENTS");
        cmd.env_remove("RUST_LOG");
        cmd.env("TERM", "xterm-256color");
        let child = pair.slave.spawn_command(cmd).expect("spawn in the pty");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let fed = Arc::clone(&screen);
        // Ends when the program exits (EIO) or the master is dropped.
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                fed.lock().unwrap().process(&buf[..n]);
            }
        });
        PtyProc {
            child,
            writer,
            screen,
            _master: pair.master,
        }
    }

    /// The program's process id.
    pub fn pid(&self) -> u32 {
        self.child.process_id().expect("a pid")
    }

    /// The screen's text now, one line per row.
    pub fn text(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Whether the program has the alternate screen on.
    pub fn alternate_screen(&self) -> bool {
        self.screen.lock().unwrap().screen().alternate_screen()
    }

    /// Waits until `ready` holds for the screen's text, at most `limit`;
    /// panics naming `what` and showing the screen otherwise.
    pub async fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let text = self.text();
            if ready(&text) {
                return text;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out after {limit:?} waiting for {what}; the screen:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types `keys`.
    pub fn send(&mut self, keys: &[u8]) {
        self.writer.write_all(keys).expect("write to the pty");
        self.writer.flush().expect("flush the pty");
    }

    /// The exit code, waiting at most `limit`; `None` (and the process
    /// killed) if it did not exit by then.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<u32> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.exit_code());
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for PtyProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
