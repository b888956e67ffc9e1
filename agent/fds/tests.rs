//! Tests of `fds`.

use super::*;

#[test]
fn the_budget_is_the_limit_less_the_reserve() {
    let b = FdBudget::new(Some(300), 256).unwrap();
    assert_eq!((b.size(), b.reserve(), b.in_use()), (Some(44), 256, 0));
    let held: Vec<_> = (0..22).map(|_| b.try_take(2).expect("fits")).collect();
    assert_eq!(b.in_use(), 44);
    assert!(b.try_take(2).is_none(), "the 23rd client eats the reserve");
    drop(held);
    assert_eq!(b.in_use(), 0);
    assert!(b.try_take(2).is_some(), "free again once clients leave");
}

#[test]
fn spare_descriptors_come_only_from_the_free_half_of_the_budget() {
    let b = FdBudget::new(Some(356), 256).unwrap();
    let clients: Vec<_> = (0..20).map(|_| b.try_take(2).expect("fits")).collect();
    // 60 of 100 free: pipes may take 2 each while 50 stay free.
    let pipes: Vec<_> = (0..6).map_while(|_| b.try_spare(2)).collect();
    assert_eq!(pipes.len(), 5, "extras while at least half stays free");
    assert_eq!(b.in_use(), 50);
    assert!(b.pressed(2) && !b.pressed(0));
    // Clients still get the rest, and extras then count as pressed.
    let more: Vec<_> = (0..25)
        .map(|_| b.try_take(2).expect("clients first"))
        .collect();
    assert!(b.pressed(0), "an idle extra is to be given back now");
    drop((clients, pipes, more));
    assert!(!b.pressed(0));
    assert!(FdBudget::unlimited().try_spare(u32::MAX >> 4).is_some());
    assert!(!FdBudget::unlimited().pressed(u32::MAX));
}

#[test]
fn holders_of_spare_descriptors_hear_when_clients_leave_the_budget_short() {
    let b = FdBudget::new(Some(266), 256).unwrap();
    let polled = |n: &mut std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>| {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        n.as_mut().poll(&mut cx).is_ready()
    };
    let mut short = std::pin::pin!(b.short());
    let held: Vec<_> = (0..2).map(|_| b.try_take(2)).collect();
    assert!(!polled(&mut short), "6 of 10 free: not short");
    let third = b.try_take(2);
    assert!(polled(&mut short), "4 of 10 free: short");
    drop((held, third));
}

#[test]
fn a_reserve_as_large_as_the_limit_is_an_error_naming_both() {
    let e = FdBudget::new(Some(200), 256).unwrap_err().to_string();
    assert!(e.contains("--fd-reserve 256") && e.contains("200"), "{e}");
    assert!(FdBudget::new(Some(256), 256).is_err());
    assert_eq!(FdBudget::new(Some(257), 256).unwrap().size(), Some(1));
}

#[test]
fn no_limit_means_no_budget() {
    let b = FdBudget::new(None, 256).unwrap();
    assert_eq!(b.size(), None);
    assert!(b.try_take(2).is_some());
    assert!(FdBudget::unlimited().try_take(u32::MAX >> 4).is_some());
}

#[test]
fn overcommit_sums_every_proxy() {
    assert_eq!(overcommit(None, [u64::MAX]), None);
    assert_eq!(overcommit(Some(20_000), [10_000]), None);
    assert_eq!(
        overcommit(Some(19_744), [10_000]),
        Some(Overcommit {
            connections: 10_000,
            fds: 20_000,
            budget: 19_744
        })
    );
    assert_eq!(
        overcommit(Some(100), [30, 30]).map(|o| o.fds),
        Some(120),
        "two proxies"
    );
    assert_eq!(
        overcommit(Some(100), [u64::MAX, 1]).map(|o| o.fds),
        Some(u64::MAX),
        "saturates"
    );
}

#[test]
fn the_limit_in_force_is_never_lowered() {
    let before = current_limit();
    let raised = raise_open_file_limit().expect("raising to the hard limit is allowed");
    assert_eq!(raised.before, before.soft);
    assert_eq!(raised.soft, before.hard.or(before.soft));
    assert_eq!(current_limit().soft, raised.soft);
}
