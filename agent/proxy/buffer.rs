//! Read buffers that exist only while data moves. A direction waits for its
//! socket to be readable holding no buffer, takes one to read, and gives it
//! back once the chunk is passed on: an idle connection owns no buffer, and
//! a busy one reuses its worker thread's spare instead of allocating per
//! chunk. A chunk handed to a recording keeps its bytes (zero copy); the
//! rest of that buffer is reused for the next chunks until it runs short.

use std::cell::Cell;

use bytes::BytesMut;

use super::pump::PLAIN_CHUNK_SIZE;

/// Least free room worth reading into; a buffer with less is replaced.
pub const MIN_READ_ROOM: usize = 16 * 1024;

thread_local! {
    /// The worker thread's spare buffer (empty, with room).
    static SPARE: Cell<Option<BytesMut>> = const { Cell::new(None) };
}

/// Makes sure `buf` has room to read into: keeps its own room, else takes
/// the thread's spare, else allocates `PLAIN_CHUNK_SIZE`.
pub(crate) fn take(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() >= MIN_READ_ROOM {
        return;
    }
    *buf = match SPARE.take() {
        Some(spare) if spare.capacity() >= MIN_READ_ROOM => spare,
        _ => BytesMut::with_capacity(PLAIN_CHUNK_SIZE),
    };
}

/// Gives an emptied `buf` back to the thread, leaving `buf` without memory.
/// A buffer still holding bytes is kept where it is.
pub(crate) fn give_back(buf: &mut BytesMut) {
    if !buf.is_empty() {
        return;
    }
    let b = std::mem::take(buf);
    if b.capacity() >= MIN_READ_ROOM {
        SPARE.set(Some(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_buffers_hold_nothing_and_are_reused() {
        let mut a = BytesMut::new();
        take(&mut a);
        assert!(a.capacity() >= PLAIN_CHUNK_SIZE);
        let ptr = a.as_ptr();
        give_back(&mut a);
        assert_eq!(a.capacity(), 0, "an idle direction owns no buffer");
        let mut b = BytesMut::new();
        take(&mut b);
        assert_eq!(b.as_ptr(), ptr, "the thread's spare is reused");
    }

    #[test]
    fn a_buffer_with_bytes_is_not_given_back() {
        let mut a = BytesMut::new();
        take(&mut a);
        a.extend_from_slice(b"pending");
        give_back(&mut a);
        assert_eq!(&a[..], b"pending");
    }
}
