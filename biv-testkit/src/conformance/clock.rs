//! Conformance checks for [`Clock`] implementations.

use std::sync::Arc;

use biv_core::{Clock, Timestamp};

/// A thousand consecutive reads never go backwards.
pub async fn never_goes_backwards_between_reads(clock: Arc<dyn Clock>) {
    let mut last = clock.now();
    for _ in 0..1000 {
        let now = clock.now();
        assert!(now >= last, "clock went backwards: {last} then {now}");
        last = now;
    }
}

/// A read's RFC 3339 text parses back to the same instant.
pub async fn reads_survive_the_text_form(clock: Arc<dyn Clock>) {
    let now = clock.now();
    let text = now.to_string();
    assert_eq!(
        Timestamp::parse_rfc3339(&text).ok(),
        Some(now),
        "{text} does not round-trip"
    );
}
