//! A page-aligned buffer for `O_DIRECT` writes, in safe code: a vector one
//! page longer than asked for, used from its first page boundary. The
//! memory comes zeroed from the allocator, so pages not yet filled are not
//! yet touched (a lane that records little holds little).

use std::ops::Range;

/// Alignment of `O_DIRECT` buffers, offsets and lengths: the page size,
/// which covers every logical block size up to it (512 and 4096 bytes).
pub(crate) const ALIGN: usize = 4096;

/// `n` rounded down to a multiple of [`ALIGN`].
pub(crate) fn align_down(n: usize) -> usize {
    n - n % ALIGN
}

/// A fixed-capacity buffer whose first byte sits on a page boundary.
pub(crate) struct AlignedBuf {
    vec: Vec<u8>,
    /// Index in `vec` of the first page boundary.
    start: usize,
    capacity: usize,
    /// Bytes filled, from `start`.
    len: usize,
}

impl AlignedBuf {
    /// A buffer of `capacity` bytes (a multiple of [`ALIGN`]).
    pub(crate) fn new(capacity: usize) -> AlignedBuf {
        debug_assert_eq!(capacity % ALIGN, 0);
        let vec = vec![0u8; capacity + ALIGN];
        let misalign = vec.as_ptr().addr() % ALIGN;
        let start = (ALIGN - misalign) % ALIGN;
        AlignedBuf {
            vec,
            start,
            capacity,
            len: 0,
        }
    }

    /// Copies as much of `data` as fits; returns how much that was.
    pub(crate) fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.capacity - self.len);
        let at = self.start + self.len;
        self.vec[at..at + n].copy_from_slice(&data[..n]);
        self.len += n;
        n
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == self.capacity
    }

    /// Empties it for the next chunk (the bytes stay until overwritten).
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Filled bytes in `range`; an aligned start gives an aligned slice.
    pub(crate) fn get(&self, range: Range<usize>) -> &[u8] {
        debug_assert!(range.end <= self.len);
        &self.vec[self.start + range.start..self.start + range.end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_starts_on_a_page_and_fills_to_its_capacity() {
        let mut b = AlignedBuf::new(2 * ALIGN);
        assert_eq!(b.get(0..0).as_ptr().addr() % ALIGN, 0);
        assert_eq!(b.push(&[7; 5000]), 5000);
        assert_eq!(b.push(&[8; 5000]), 2 * ALIGN - 5000);
        assert!(b.is_full());
        assert_eq!(b.push(&[9]), 0);
        assert_eq!(b.get(ALIGN..ALIGN + 2), &[7, 7]);
        assert_eq!(b.get(ALIGN..ALIGN).as_ptr().addr() % ALIGN, 0);
        assert_eq!(b.get(2 * ALIGN - 1..2 * ALIGN), &[8]);
        b.clear();
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn align_down_rounds_to_the_page() {
        assert_eq!(align_down(0), 0);
        assert_eq!(align_down(ALIGN - 1), 0);
        assert_eq!(align_down(ALIGN), ALIGN);
        assert_eq!(align_down(3 * ALIGN + 17), 3 * ALIGN);
    }
}
