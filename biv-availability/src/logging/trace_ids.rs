//! ECS `trace.id` / `span.id` for events inside a `tracing` span that carries an OpenTelemetry
//! span context (cargo feature `otel`).
//!
//! `tracing-opentelemetry`'s layer keeps each span's OpenTelemetry context in the span's
//! extensions (its `OtelData` is private, so it is read through
//! [`tracing_opentelemetry::get_otel_context`]) and, on entering a span, makes that context the
//! thread's current [`opentelemetry::Context`]. The lookup here asks, in this order:
//!
//! 1. no `tracing` span around the event: nothing — the common path costs one look at the
//!    registry's span stack and nothing else;
//! 2. an event inside the span that is entered on this thread: the current OpenTelemetry context
//!    (no lock; it is the innermost span the OpenTelemetry layer saw, or a context the host
//!    attached itself);
//! 3. otherwise (an explicit `parent:`, or the OpenTelemetry layer runs without context
//!    activation): the span's own context from its extensions, walking up to the root until a
//!    span carries a valid one.

/// The ids of the span an event belongs to, as the lowercase hex ECS writes: 32 characters of
/// `trace.id`, 16 of `span.id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceIds {
    hex: [u8; 48],
}

impl TraceIds {
    /// The ids from their bytes (W3C trace context: 16-byte trace id, 8-byte span id).
    pub(crate) fn from_bytes(trace: [u8; 16], span: [u8; 8]) -> TraceIds {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 48];
        for (i, b) in trace.iter().chain(span.iter()).enumerate() {
            hex[2 * i] = DIGITS[usize::from(b >> 4)];
            hex[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
        }
        TraceIds { hex }
    }

    /// `trace.id`: 32 lowercase hex digits.
    pub(crate) fn trace_id(&self) -> &str {
        std::str::from_utf8(&self.hex[..32]).unwrap_or_default()
    }

    /// `span.id`: 16 lowercase hex digits.
    pub(crate) fn span_id(&self) -> &str {
        std::str::from_utf8(&self.hex[32..]).unwrap_or_default()
    }
}

#[cfg(feature = "otel")]
pub(crate) use otel::OtelIds;

#[cfg(feature = "otel")]
mod otel {
    use std::sync::OnceLock;

    use opentelemetry::trace::{SpanContext, TraceContextExt};
    use tracing::dispatcher::WeakDispatch;
    use tracing::{Dispatch, Event, Subscriber};
    use tracing_subscriber::layer::Context;
    use tracing_subscriber::registry::LookupSpan;

    use super::TraceIds;

    impl TraceIds {
        /// The ids of a valid span context; `None` for the invalid (all-zero) one.
        fn from_span_context(context: &SpanContext) -> Option<TraceIds> {
            context.is_valid().then(|| {
                TraceIds::from_bytes(context.trace_id().to_bytes(), context.span_id().to_bytes())
            })
        }
    }

    /// Finds the OpenTelemetry ids of an event. Holds a weak handle to the dispatcher the layer is
    /// registered with, the only way to reach `tracing-opentelemetry`'s per-span data from inside a
    /// layer (the thread's default dispatcher is not reachable while it dispatches an event).
    #[derive(Debug, Default)]
    pub(crate) struct OtelIds {
        dispatch: OnceLock<WeakDispatch>,
    }

    impl OtelIds {
        /// Remembers the dispatcher (weakly: the dispatcher owns the layer).
        pub(crate) fn register(&self, dispatch: &Dispatch) {
            // A layer belongs to one subscriber; a second registration keeps the first.
            let _ = self.dispatch.set(dispatch.downgrade());
        }

        /// The ids for `event`, or `None` outside spans and in spans without a valid context.
        pub(crate) fn lookup<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>) -> Option<TraceIds>
        where
            S: Subscriber + for<'a> LookupSpan<'a>,
        {
            let span = ctx.event_span(event)?;
            // OpenTelemetry's own diagnostics may be emitted while it holds the current-context
            // cell or a span's data lock; looking either up then would panic or deadlock.
            if event.metadata().target().starts_with("opentelemetry") {
                return None;
            }
            if event.is_contextual()
                && let Some(ids) = opentelemetry::Context::map_current(|cx| {
                    if cx.has_active_span() {
                        TraceIds::from_span_context(cx.span().span_context())
                    } else {
                        None
                    }
                })
            {
                return Some(ids);
            }
            let dispatch = self.dispatch.get()?.upgrade()?;
            span.scope().find_map(|s| {
                tracing_opentelemetry::get_otel_context(&s.id(), &dispatch)
                    .and_then(|cx| TraceIds::from_span_context(cx.span().span_context()))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TraceIds;

    #[test]
    fn hex_is_lowercase_and_fixed_width() {
        let ids = TraceIds::from_bytes(
            [
                0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
                0x47, 0x36,
            ],
            [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7],
        );
        assert_eq!(ids.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ids.span_id(), "00f067aa0ba902b7");
    }
}
