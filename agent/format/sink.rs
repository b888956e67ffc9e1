//! Where a recording's bytes go: [`Sink`], a writer that can also make
//! them durable, and its impls for files, memory, buffers and boxes. The
//! writer goes through it so tests can inject faults (disk full, torn
//! writes) with a sink of their own.

use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Where a recording's bytes go: a writer that can also make them durable.
pub trait Sink: Write + Send {
    /// Makes everything written so far durable (fsync for files).
    ///
    /// # Errors
    /// The OS error of the sync.
    fn sync(&mut self) -> io::Result<()>;
}

impl Sink for File {
    /// `sync_data`: the data and the size, not the timestamps.
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

impl Sink for Vec<u8> {
    /// Memory has nothing to make durable.
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<S: Sink> Sink for BufWriter<S> {
    /// Flushes the buffer into the inner sink, then syncs that.
    fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        self.get_mut().sync()
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn sync(&mut self) -> io::Result<()> {
        (**self).sync()
    }
}
