//! What every test server here shares: a listener on 127.0.0.1:0, one task
//! per connection over a state behind a mutex (never held across an
//! await), and the accept loop stopped when the server is dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running test server with state `S`.
pub struct Served<S> {
    pub addr: SocketAddr,
    state: Arc<Mutex<S>>,
    accept: JoinHandle<()>,
}

impl<S: Default + Send + 'static> Served<S> {
    /// Binds and spawns `serve` for every accepted connection.
    pub async fn start<F, Fut>(serve: F) -> Self
    where
        F: Fn(TcpStream, Arc<Mutex<S>>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(S::default()));
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, shared.clone()));
            }
        });
        Served {
            addr,
            state,
            accept,
        }
    }
}

impl<S> Served<S> {
    /// The server's state, for reading what it saw.
    pub fn state(&self) -> MutexGuard<'_, S> {
        lock(&self.state)
    }
}

impl<S> Drop for Served<S> {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Locks a server's state; a connection task that panicked does not make
/// the state unreadable.
pub fn lock<S>(s: &Mutex<S>) -> MutexGuard<'_, S> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}
