//! Checking how the agent refuses a request: the status, its message, and
//! that the agent still serves afterwards.

use std::time::Duration;

use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// Calls GetInfo: proves the agent still answers after a failed request.
pub async fn still_serving(ctl: &mut ReelClient<Channel>) {
    let info = tokio::time::timeout(Duration::from_secs(10), ctl.get_info(pb::GetInfoRequest {}))
        .await
        .expect("GetInfo answered within 10 s")
        .expect("GetInfo succeeds after a failed request")
        .into_inner();
    assert_eq!(info.name, "test-agent");
}

/// Checks a failed call's code and that its message holds every piece.
pub fn assert_status<T: std::fmt::Debug>(r: Result<T, Status>, code: Code, pieces: &[&str]) {
    let status = r.expect_err("the request must fail");
    assert_eq!(status.code(), code, "{status:?}");
    for p in pieces {
        assert!(
            status.message().contains(p),
            "message {:?} should contain {p:?}",
            status.message()
        );
    }
}
