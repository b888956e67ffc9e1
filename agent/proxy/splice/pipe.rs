//! A direction's pipe for `splice(2)`: its two descriptors, taken from the
//! agent's data-path budget, and the two moves through it (socket → pipe,
//! pipe → socket). Both ends and both sockets are non-blocking, so
//! `WouldBlock` from `fill` means the socket has nothing (the pipe is
//! empty then) and from `drain_into` that the socket is full.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::pipe::{
    PipeFlags, SpliceFlags, fcntl_getpipe_size, fcntl_setpipe_size, pipe_with, splice,
};
use tokio::sync::OwnedSemaphorePermit;

use crate::fds::FdBudget;
use crate::proxy::flow::PLAIN_CHUNK_SIZE;

/// Size asked of each pipe: the copying path's chunk, so a spliced
/// direction moves as much per system call as a copying one.
pub const PIPE_SIZE: usize = PLAIN_CHUNK_SIZE;
/// Smallest pipe worth splicing through. Past the per-user allowance
/// (`/proc/sys/fs/pipe-user-pages-soft`) Linux gives an unprivileged
/// process 8 KiB pipes, which would cost more system calls than copying.
pub const MIN_PIPE_SIZE: usize = 64 * 1024;
/// Descriptors one pipe holds.
pub const FDS_PER_PIPE: u32 = 2;

const FLAGS: SpliceFlags = SpliceFlags::MOVE.union(SpliceFlags::NONBLOCK);

/// A pipe between a direction's two sockets. Empty whenever the direction
/// decides how to move its next bytes.
pub(super) struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    /// How much the pipe holds, as the kernel sized it.
    size: usize,
    /// Its two descriptors' share of the budget, given back with the pipe.
    _fds: OwnedSemaphorePermit,
}

impl Pipe {
    /// A new pipe of about `PIPE_SIZE`; `None` when the budget keeps its
    /// descriptors for clients, the system has none, or the kernel gives a
    /// pipe smaller than `MIN_PIPE_SIZE` (the direction then copies).
    pub(super) fn open(budget: &FdBudget) -> Option<Pipe> {
        let fds = budget.try_spare(FDS_PER_PIPE)?;
        let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK).ok()?;
        let size = fcntl_setpipe_size(&write, PIPE_SIZE)
            .or_else(|_| fcntl_getpipe_size(&write))
            .ok()?;
        (size >= MIN_PIPE_SIZE).then_some(Pipe {
            read,
            write,
            size,
            _fds: fds,
        })
    }

    /// Moves what `from` has, at most the pipe's size, into the (empty)
    /// pipe; 0 at the sender's EOF.
    pub(super) fn fill(&self, from: impl AsFd) -> io::Result<usize> {
        Ok(splice(from, None, &self.write, None, self.size, FLAGS)?)
    }

    /// Moves at most `n` of the bytes in the pipe into `to`.
    pub(super) fn drain_into(&self, to: impl AsFd, n: usize) -> io::Result<usize> {
        Ok(splice(&self.read, None, to, None, n, FLAGS)?)
    }
}
