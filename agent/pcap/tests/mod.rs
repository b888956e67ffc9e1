//! Tests of export and import against real tools and synthetic captures.

mod garbage;
mod roundtrip;
mod synthetic;
mod tshark;
mod udp;
mod util;
