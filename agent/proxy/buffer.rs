//! Read buffers that exist only while data moves. A direction waits for its
//! socket to be readable holding no buffer, takes one to read, and gives it
//! back once the chunk is passed on: an idle connection owns no buffer.
//!
//! A chunk handed to a recording keeps its bytes without a copy
//! (`split().freeze()`), so the buffer it was read into stays shared until
//! the recorder has written it; the rest of that buffer serves the next
//! chunks. Each worker thread keeps a few such buffers and takes one back
//! once the recorder has let go of every chunk in it (`try_reclaim`): a
//! fresh allocation costs a page fault and a zeroed page per 4 KiB, which
//! profiles of recording at 5 Gbit/s showed as 7 % of the agent's CPU.

use std::cell::RefCell;

use bytes::BytesMut;

use super::flow::PLAIN_CHUNK_SIZE;

/// Least free room worth reading into; a buffer with less is replaced.
pub const MIN_READ_ROOM: usize = 16 * 1024;
/// Buffers a worker thread keeps for reuse: at most 8 MiB per thread (32
/// of `PLAIN_CHUNK_SIZE`).
pub const POOL_BUFFERS: usize = 32;

thread_local! {
    /// The worker thread's buffers not in use by a direction: empty, and
    /// either free or still sharing memory with chunks a recorder holds.
    static POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// Makes sure `buf` has room to read into: keeps its own room, else takes
/// back its whole allocation or a pooled one once no chunk uses it, else
/// allocates `PLAIN_CHUNK_SIZE`.
pub(crate) fn take(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() >= MIN_READ_ROOM {
        return;
    }
    if !buf.is_empty() {
        // Bytes still to pass on stay where they are (not a path the pumps
        // take: they empty the buffer before reading again).
        buf.reserve(PLAIN_CHUNK_SIZE);
        return;
    }
    if buf.try_reclaim(PLAIN_CHUNK_SIZE) {
        return;
    }
    POOL.with_borrow_mut(|pool| {
        let spent = std::mem::take(buf);
        let found = pool
            .iter_mut()
            .position(|b| b.capacity() >= MIN_READ_ROOM || b.try_reclaim(PLAIN_CHUNK_SIZE));
        *buf = match found {
            Some(i) => pool.swap_remove(i),
            None => BytesMut::with_capacity(PLAIN_CHUNK_SIZE),
        };
        keep(pool, spent);
    });
}

/// Gives an emptied `buf` back to the thread, leaving `buf` without memory.
/// A buffer still holding bytes is kept where it is.
pub(crate) fn give_back(buf: &mut BytesMut) {
    if !buf.is_empty() {
        return;
    }
    let b = std::mem::take(buf);
    POOL.with_borrow_mut(|pool| keep(pool, b));
}

/// Pools `b` if it has memory and the pool has a place; otherwise drops it
/// (its memory goes once the last chunk in it is written).
fn keep(pool: &mut Vec<BytesMut>, b: BytesMut) {
    if has_memory(&b) && pool.len() < POOL_BUFFERS {
        pool.push(b);
    }
}

/// Whether `b` shares an allocation. A buffer whose room was all split off
/// into chunks has no capacity left but can still be reclaimed whole, unlike
/// a `BytesMut::new()`, which points nowhere.
fn has_memory(b: &BytesMut) -> bool {
    b.capacity() > 0 || b.as_ptr() != BytesMut::new().as_ptr()
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

    #[test]
    fn memory_comes_back_once_the_recorder_lets_go_and_never_before() {
        let mut buf = BytesMut::new();
        take(&mut buf);
        let start = buf.as_ptr();
        // Fill the buffer with chunks a recorder holds.
        let mut held = Vec::new();
        while buf.capacity() >= MIN_READ_ROOM {
            buf.extend_from_slice(&[7; MIN_READ_ROOM]);
            held.push(buf.split().freeze());
        }
        take(&mut buf);
        assert_ne!(buf.as_ptr(), start, "memory still held is not reused");
        let second = buf.as_ptr();
        let last = held.last().unwrap().clone();
        held.clear();
        // Still one chunk out: the first buffer stays unavailable.
        buf.extend_from_slice(&[1; 8]);
        let _c = buf.split().freeze();
        let mut other = BytesMut::new();
        take(&mut other);
        assert_ne!(other.as_ptr(), start);
        assert!(last.iter().all(|&b| b == 7), "held bytes unchanged");
        drop(last);
        // Everything written: the first allocation is taken back whole.
        give_back(&mut other);
        let mut again = BytesMut::new();
        take(&mut again);
        let mut third = BytesMut::new();
        take(&mut third);
        assert!(
            [again.as_ptr(), third.as_ptr()].contains(&start),
            "the released buffer is reused"
        );
        assert_ne!(second, start);
    }
}
