//! Conformance checks for implementations of biv-core's traits.
//!
//! Each `*_conformance!` macro expands to one `#[test]` per rule of the trait's contract, in a
//! module named after the trait. Give it an expression that makes a fresh implementation; the
//! expression is evaluated inside an async block on a multi-threaded Tokio runtime, so it may
//! `.await`. Attributes after the expression, each after a comma, go on every generated test,
//! e.g. to mark a server-backed implementation ignored:
//!
//! ```text
//! audit_sink_conformance!(PgLog::connect(&url, "t", opts).await.unwrap(), #[ignore = "server: postgresql"]);
//! ```
//!
//! ```
//! use biv_testkit::{InMemoryAuditSink, audit_sink_conformance};
//!
//! audit_sink_conformance!(InMemoryAuditSink::new());
//! # fn main() {}
//! ```
//!
//! The check functions are public too (`biv_testkit::conformance::audit_sink::…`), for hosts
//! that want to call them from their own test harness. A failed rule panics with a message that
//! names the rule.

pub mod audit_sink;
pub mod clock;
pub mod encryptor;
pub mod key_provider;
pub mod log_sink;
pub mod monitor;
pub mod notifier;
pub mod redactor;
pub mod reviewer;

use std::future::Future;

/// Runs a conformance check to completion on a fresh two-worker Tokio runtime.
///
/// # Panics
/// If the runtime cannot be built, or the check fails.
pub fn run<F: Future<Output = ()>>(check: F) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build the Tokio runtime for a conformance check: {e}"));
    runtime.block_on(check);
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($module:ident, $attrs:tt, $make:expr, [$($check:ident),+ $(,)?]) => {
        $( $crate::__conformance_test!($module, $check, $attrs, $make); )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test {
    ($module:ident, $check:ident, [$(#[$attr:meta])*], $make:expr) => {
        #[test]
        $(#[$attr])*
        fn $check() {
            $crate::conformance::run(async {
                let subject = ::std::sync::Arc::new($make);
                $crate::conformance::$module::$check(subject).await;
            });
        }
    };
}

/// Generates the [`AuditSink`](biv_core::AuditSink) conformance tests for an implementation.
///
/// The sink may already hold entries (a persistent store): the checks use fresh event ids and
/// only compare indices relative to each other. Each evaluation of the expression must give a
/// log that nothing else appends to while the check runs (a fresh file or table per test), or
/// the density checks see other writers' entries.
#[macro_export]
macro_rules! audit_sink_conformance {
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        mod audit_sink_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_tests!(audit_sink, [$(#[$attr])*], $make, [
                receipts_are_dense_and_increasing,
                invalid_events_are_rejected_and_not_recorded,
                duplicate_event_ids_are_rejected,
                concurrent_appends_get_distinct_dense_indices,
            ]);
        }
    };
}

/// Generates the [`LogSink`](biv_core::LogSink) conformance tests for an implementation.
#[macro_export]
macro_rules! log_sink_conformance {
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        mod log_sink_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_tests!(log_sink, [$(#[$attr])*], $make, [
                accepts_a_burst_and_flushes,
                flush_with_nothing_pending_succeeds,
                concurrent_submits_are_accepted,
            ]);
        }
    };
}

/// Generates the [`Notifier`](biv_core::Notifier) conformance tests for an implementation.
#[macro_export]
macro_rules! notifier_conformance {
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        mod notifier_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_tests!(notifier, [$(#[$attr])*], $make, [
                accepts_firing_then_resolved,
                concurrent_notifications_are_accepted,
            ]);
        }
    };
}

/// Generates the [`Clock`](biv_core::Clock) conformance tests for an implementation.
#[macro_export]
macro_rules! clock_conformance {
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        mod clock_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_tests!(clock, [$(#[$attr])*], $make, [
                never_goes_backwards_between_reads,
                reads_survive_the_text_form,
            ]);
        }
    };
}

/// Generates the [`Monitor`](biv_core::Monitor) conformance tests for an implementation.
#[macro_export]
macro_rules! monitor_conformance {
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        mod monitor_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_tests!(monitor, [$(#[$attr])*], $make, [
                name_is_a_health_json_key,
                check_finishes_within_its_timeout,
                problems_are_explained,
                concurrent_checks_are_safe,
            ]);
        }
    };
}

/// Generates the [`Redactor`](biv_core::Redactor) conformance tests for an implementation.
///
/// Besides structural rules, it requires that an e-mail address and a valid BSN are removed.
#[macro_export]
macro_rules! redactor_conformance {
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        mod redactor_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_tests!(redactor, [$(#[$attr])*], $make, [
                findings_are_well_formed,
                redaction_removes_what_scan_finds,
                clean_text_is_left_alone,
                email_and_bsn_are_removed,
                hostile_input_is_handled,
            ]);
        }
    };
}

/// Generates the [`Reviewer`](biv_core::Reviewer) conformance tests for an implementation.
///
/// Besides determinism it requires the minimum any change-control reviewer must enforce: an
/// unreviewed change and a change approved only by its author are rejected.
#[macro_export]
macro_rules! reviewer_conformance {
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        mod reviewer_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_tests!(reviewer, [$(#[$attr])*], $make, [
                verdicts_are_deterministic,
                unreviewed_change_is_rejected,
                self_approval_does_not_count,
                verdict_lists_the_inputs,
                rejections_give_reasons,
            ]);
        }
    };
}

/// Generates the [`Encryptor`](biv_core::Encryptor) conformance tests for an implementation.
///
/// Requires a round trip (also of the empty plaintext), randomised ciphertexts, and the opaque
/// [`DecryptError::Failed`](biv_core::DecryptError::Failed) for a wrong context and for every
/// byte flip, truncation and appended byte of a sample ciphertext. The contexts carry
/// `tenant`, `table`, `column`, `subject` and `row`.
#[macro_export]
macro_rules! encryptor_conformance {
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        mod encryptor_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_tests!(encryptor, [$(#[$attr])*], $make, [
                round_trip,
                empty_plaintext_round_trips,
                wrong_context_fails,
                tampering_fails,
                encryptions_are_randomised,
                concurrent_use_is_safe,
            ]);
        }
    };
}

/// Generates the [`KeyProvider`](biv_core::KeyProvider) conformance tests for an
/// implementation: wrap/unwrap round trip, the KEK id and version reported, and the opaque
/// [`UnwrapError::Failed`](biv_core::UnwrapError::Failed) for wrong associated data and a
/// tampered or truncated blob.
#[macro_export]
macro_rules! key_provider_conformance {
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        mod key_provider_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_tests!(key_provider, [$(#[$attr])*], $make, [
                wrap_unwrap_round_trip,
                reports_kek_id_and_version,
                wrong_aad_fails,
                tampered_blob_fails,
            ]);
        }
    };
}
