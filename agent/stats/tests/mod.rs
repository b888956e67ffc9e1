//! Tests of the analysis over generated recordings, without sockets.

mod chart;
mod figures;
mod sample;
mod udp;
