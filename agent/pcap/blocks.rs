//! Packet blocks of pcapng, decoded from a raw block body with bounds
//! checks (pcap-file's typed parsing is used only for section and interface
//! blocks), and pcapng timestamps in nanoseconds. Pure.

fn u32_at(body: &[u8], at: usize, little: bool) -> Option<u32> {
    let bytes: [u8; 4] = body.get(at..at + 4)?.try_into().ok()?;
    Some(if little {
        u32::from_le_bytes(bytes)
    } else {
        u32::from_be_bytes(bytes)
    })
}

fn u16_at(body: &[u8], at: usize, little: bool) -> Option<u16> {
    let bytes: [u8; 2] = body.get(at..at + 2)?.try_into().ok()?;
    Some(if little {
        u16::from_le_bytes(bytes)
    } else {
        u16::from_be_bytes(bytes)
    })
}

/// (interface, raw timestamp, captured data) of a packet block body.
pub(crate) type PacketFields<'a> = Option<(u32, Option<u64>, &'a [u8])>;

/// Enhanced packet block: interface u32, timestamp high u32 and low u32,
/// captured length u32, original length u32, data.
pub(crate) fn enhanced(body: &[u8], little: bool) -> PacketFields<'_> {
    let interface = u32_at(body, 0, little)?;
    let ts = u64::from(u32_at(body, 4, little)?) << 32 | u64::from(u32_at(body, 8, little)?);
    let captured = u32_at(body, 12, little)? as usize;
    Some((
        interface,
        Some(ts),
        body.get(20..20usize.checked_add(captured)?)?,
    ))
}

/// Obsolete packet block: interface u16, drops u16, timestamp (2 × u32),
/// captured length u32, original length u32, data.
pub(crate) fn obsolete(body: &[u8], little: bool) -> PacketFields<'_> {
    let interface = u32::from(u16_at(body, 0, little)?);
    let ts = u64::from(u32_at(body, 4, little)?) << 32 | u64::from(u32_at(body, 8, little)?);
    let captured = u32_at(body, 12, little)? as usize;
    Some((
        interface,
        Some(ts),
        body.get(20..20usize.checked_add(captured)?)?,
    ))
}

/// Simple packet block: original length u32, data (padded); interface 0 and
/// no timestamp.
pub(crate) fn simple(body: &[u8], little: bool) -> PacketFields<'_> {
    let original = u32_at(body, 0, little)? as usize;
    let data = body.get(4..)?;
    Some((0, None, &data[..original.min(data.len())]))
}

/// A pcapng timestamp in units of `if_tsresol` as nanoseconds: 10^-r s, or
/// 2^-r s when the high bit is set. Saturates instead of overflowing.
pub(crate) fn to_ns(ts: u64, resolution: u8) -> u64 {
    let ts = u128::from(ts);
    let ns = if resolution & 0x80 != 0 {
        (ts * 1_000_000_000) >> u32::from(resolution & 0x7f)
    } else if resolution <= 9 {
        ts * 10u128.pow(9 - u32::from(resolution))
    } else {
        10u128
            .checked_pow(u32::from(resolution) - 9)
            .map_or(0, |div| ts / div)
    };
    u64::try_from(ns).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_resolutions() {
        // (raw, if_tsresol, ns)
        let cases = [
            (5, 6, 5_000),
            (5, 9, 5),
            (5_000, 12, 5),
            (3, 0, 3_000_000_000),
            (1 << 10, 0x80 | 10, 1_000_000_000),
            (7, 100, 0),
            (u64::MAX, 0, u64::MAX),
        ];
        for (raw, res, ns) in cases {
            assert_eq!(to_ns(raw, res), ns, "{raw} at {res}");
        }
    }

    #[test]
    fn short_packet_blocks_are_rejected_not_sliced() {
        assert!(enhanced(&[0; 19], true).is_none());
        let mut epb = vec![0; 20];
        epb[12] = 5; // captured length 5, but no data
        assert!(enhanced(&epb, true).is_none());
        assert!(simple(&[1, 2], false).is_none());
        assert_eq!(
            simple(&[0, 0, 0, 2, 9, 9, 0, 0], false),
            Some((0, None, &[9, 9][..]))
        );
    }
}
