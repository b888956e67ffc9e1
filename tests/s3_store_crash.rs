//! A recording a crash cut short reaches the object store (issue 17): an
//! agent recording with `--store` is killed (`kill -9`) mid-recording; at
//! its restart the recording, without index, is indexed as cut short and
//! uploaded like any other, so an agent with an empty data directory lists
//! it (`recovered`, as it lists locally) and pulls it. Against a real
//! S3-compatible server on loopback (moto, `REEL_TEST_S3`; skipped without).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::s3::{Moto, UPLOAD_WAIT, object, segments_dir, wait_stored_whole};
use common::segmented::{
    SMALL_SEGMENTS, open_echo_clients, payloads_by_conn, sha, wait_segments_hold,
};
use common::{
    agent_json, echo_server, eventually, open_of, proxy_addr, read_recording, reelctl_async,
    start_proxy, start_recording,
};
use reel::format::{End, Index};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_cut_by_kill_9_is_uploaded_at_restart_and_listed_cut_short() {
    let Some(moto) = Moto::start_or_skip(
        "a_recording_cut_by_kill_9_is_uploaded_at_restart_and_listed_cut_short",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
    let client = moto.client();
    let mut a = moto.agent(&dir_a, "a", "crash", &SMALL_SEGMENTS);
    let mut ctl = a.client().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, echo_server().await).await);
    let rec = start_recording(&mut ctl, "cut").await;

    // Two clients send 24 × 16 KiB each and stay open through the kill,
    // so their connections go on across sealed segments into open ones.
    let clients = open_echo_clients(proxy, 2, 24).await;
    let sent: u64 = clients.iter().map(|(_, _, m)| m.len() as u64).sum();
    let path = segments_dir(&dir_a, &rec.id);
    wait_segments_hold(&path, sent).await;
    a.kill9();
    drop(ctl);
    let prefix = format!("crash/{}", rec.id);
    assert!(
        object(&*client, &format!("{prefix}/index.json"))
            .await
            .is_none(),
        "no index in the store before the restart"
    );
    let surveyed = reel::format::survey_dir(&path).unwrap();
    let End::Truncated { cut_bytes, .. } = surveyed.end else {
        panic!("{:?}", surveyed.end)
    };

    // The restart indexes it as cut short and uploads it, index last.
    let a = moto.agent(&dir_a, "a", "crash", &[]);
    wait_stored_whole(
        &*client,
        &prefix,
        UPLOAD_WAIT,
        "the cut recording complete in the store",
    )
    .await;
    let stored = object(&*client, &format!("{prefix}/index.json"))
        .await
        .unwrap();
    let stored = Index::parse(&stored).unwrap();
    assert!(!stored.complete, "the index says cut short: {stored:?}");
    assert_eq!(stored.footer.end_reason, reel::record::CUT_SHORT_REASON);
    assert_eq!(stored.footer.truncated_bytes, cut_bytes);
    eventually(UPLOAD_WAIT, "the local copy released", || async {
        !path.exists()
    })
    .await;
    assert!(
        a.log().contains("indexed a recording a crash cut short"),
        "{}",
        a.log()
    );

    // Another agent, nothing on its disk, lists it as the restarted agent
    // listed it locally: recovered, every byte, the cut counted.
    let b = moto.agent(&dir_b, "b", "crash", &[]);
    let listed = agent_json(&b, &["record", "ls"]).await;
    let listed = listed["recordings"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let r = &listed[0];
    assert_eq!(
        (&r["id"], &r["status"], &r["location"], &r["label"]),
        (
            &Value::from(rec.id.as_str()),
            &Value::from("recovered"),
            &Value::from("store"),
            &Value::from("cut")
        ),
        "{r}"
    );
    assert_eq!(
        (
            &r["connections"],
            &r["bytes_c2s"],
            &r["bytes_s2c"],
            &r["truncated_bytes"]
        ),
        (
            &Value::from(2),
            &Value::from(sent),
            &Value::from(sent),
            &Value::from(cut_bytes)
        ),
        "{r}"
    );

    // And pulls it: one file, every connection's bytes whole and in order.
    let pulled = tmp.path().join("pulled");
    std::fs::create_dir_all(&pulled).unwrap();
    reelctl_async(&[
        "-a",
        &b.addr_str(),
        "record",
        "pull",
        &rec.id,
        "-o",
        pulled.to_str().unwrap(),
    ])
    .await
    .assert_code(0);
    let (_, frames, _) = read_recording(&pulled.join(format!("{}.reel", rec.id)));
    let by_conn = payloads_by_conn(&frames);
    for (_, local, mine) in &clients {
        let (conn, _) = open_of(&frames, local);
        assert_eq!(sha(&by_conn[&conn].0), sha(mine), "c2s of {local}");
        assert_eq!(sha(&by_conn[&conn].1), sha(mine), "s2c of {local}");
    }
}
