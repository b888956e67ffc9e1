//! Conversions between engine values and reel.v1 messages that both sides
//! of the wire need: the agent's service answers with them and reelctl
//! builds requests and reads answers with them, so neither keeps its own
//! copy of a field-by-field mapping. The engine never imports this module.

pub mod analysis;
pub mod faults;
pub mod json;
pub mod recording;
pub mod replay;
