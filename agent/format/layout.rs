//! Every magic number, version, size and code of the recording file layout.
//!
//! WARNING: changing any value in this file breaks every recording already
//! written. Add new frame kinds or header flags instead, and bump [`VERSION`]
//! only for a layout that old readers must refuse. `docs/FORMAT.md` documents
//! these same values; keep the two in step.

/// First bytes of every recording, so a stray file is refused at once.
pub const MAGIC: [u8; 8] = *b"REELREC\0";

/// The newest layout version, written when a recording holds a UDP proxy
/// (its DATAGRAM frames must not be skipped by a reader that does not know
/// them). A recording of TCP proxies only is written as [`VERSION_TCP`],
/// byte for byte what version-1 builds wrote, so they still read it.
pub const VERSION: u16 = 2;

/// The version of a recording without datagrams; also the oldest one read.
pub const VERSION_TCP: u16 = 1;

/// Header flags this build writes; no flag is defined yet, so any set bit
/// means a writer newer than us changed the meaning of the file.
pub const FLAGS: u16 = 0;

/// Bytes before the metadata: magic, version, flags, meta_len.
pub const HEADER_FIXED_LEN: usize = 8 + 2 + 2 + 4;

/// Where the checksummed part of the header starts (the version field).
pub const HEADER_CRC_START: usize = 8;

/// Upper bound on the header metadata, so a damaged length cannot make a
/// reader allocate gigabytes.
pub const MAX_META_LEN: usize = 1024 * 1024;

/// Size of every CRC32C field (header and frames).
pub const CRC_LEN: usize = 4;

/// Size of the `body_len` field that starts each frame.
pub const FRAME_LEN_FIELD: usize = 4;

/// Fixed part of a frame body: kind, dir, reserved, conn, ts_ns.
pub const FRAME_FIXED_BODY: usize = 1 + 1 + 2 + 8 + 8;

/// Offset of the payload inside an encoded frame.
pub const FRAME_PAYLOAD_START: usize = FRAME_LEN_FIELD + FRAME_FIXED_BODY;

/// Bytes a frame adds around its payload (length field, fixed body, CRC).
pub const FRAME_OVERHEAD: usize = FRAME_PAYLOAD_START + CRC_LEN;

/// Largest payload of any frame; bounds the memory a reader needs.
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// Largest valid `body_len` value.
pub const MAX_BODY_LEN: usize = FRAME_FIXED_BODY + MAX_PAYLOAD;

/// Offsets of the fields inside an encoded frame (from its `body_len` field).
pub const OFF_KIND: usize = 4;
/// Offset of the direction byte.
pub const OFF_DIR: usize = 5;
/// Offset of the connection id.
pub const OFF_CONN: usize = 8;
/// Offset of the timestamp.
pub const OFF_TS: usize = 16;

/// Frame kind: a connection opened (payload: JSON `OpenInfo`).
pub const KIND_OPEN: u8 = 1;
/// Frame kind: bytes relayed in one direction (payload: the bytes).
pub const KIND_DATA: u8 = 2;
/// Frame kind: one side shut down its write half (empty payload).
pub const KIND_HALF_CLOSE: u8 = 3;
/// Frame kind: the connection closed (payload: UTF-8 reason).
pub const KIND_CLOSE: u8 = 4;
/// Frame kind: bytes known to be missing (payload: u64 count + UTF-8 reason).
pub const KIND_LOSS: u8 = 5;
/// Frame kind: free text (payload: UTF-8).
pub const KIND_ANNOTATION: u8 = 6;
/// Frame kind: end-of-recording summary (payload: JSON `Footer`); always last.
pub const KIND_FOOTER: u8 = 7;

/// Frame kind: one datagram relayed in one direction (payload: exactly the
/// datagram). Version 2.
pub const KIND_DATAGRAM: u8 = 8;

/// Direction byte: the frame belongs to no direction.
pub const DIR_NONE: u8 = 0;
/// Direction byte: client to server.
pub const DIR_C2S: u8 = 1;
/// Direction byte: server to client.
pub const DIR_S2C: u8 = 2;

/// Size of the `lost bytes` count that starts a LOSS payload.
pub const LOSS_COUNT_LEN: usize = 8;

/// Magic that ends a cleanly finished recording.
pub const TRAILER_MAGIC: [u8; 8] = *b"REELEND\0";

/// Trailer size: footer offset (u64) + [`TRAILER_MAGIC`].
pub const TRAILER_LEN: usize = 8 + 8;

// All integers in the file are little-endian; these helpers are the one
// place that reads them.

/// Little-endian u16 at `at`; the caller has checked `buf` is long enough.
pub(super) fn le_u16(buf: &[u8], at: usize) -> u16 {
    let mut b = [0; 2];
    b.copy_from_slice(&buf[at..at + 2]);
    u16::from_le_bytes(b)
}

/// Little-endian u32 at `at`; the caller has checked `buf` is long enough.
pub(super) fn le_u32(buf: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

/// Little-endian u64 at `at`; the caller has checked `buf` is long enough.
pub(super) fn le_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}
