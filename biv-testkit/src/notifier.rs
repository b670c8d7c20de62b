//! [`InMemoryNotifier`]: a [`Notifier`] that collects alerts.

use std::sync::Mutex;

use async_trait::async_trait;
use biv_core::{Alert, BackendError, Notifier, NotifyError};

#[derive(Debug, Default)]
struct State {
    alerts: Vec<Alert>,
    unavailable: bool,
}

/// A [`Notifier`] for tests: keeps every alert it is given.
/// [`InMemoryNotifier::set_unavailable`] makes it fail with [`NotifyError::Unavailable`].
///
/// ```
/// use biv_core::Notifier;
/// use biv_testkit::{InMemoryNotifier, sample_alert};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let n = InMemoryNotifier::new();
/// n.notify(&sample_alert("BivDiskFillingUp")).await?;
/// assert_eq!(n.alerts()[0].name(), "BivDiskFillingUp");
/// # Ok::<(), biv_core::NotifyError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct InMemoryNotifier {
    state: Mutex<State>,
}

impl InMemoryNotifier {
    /// A notifier with no alerts.
    pub fn new() -> Self {
        Self::default()
    }

    /// The alerts received, in order.
    pub fn alerts(&self) -> Vec<Alert> {
        self.lock().alerts.clone()
    }

    /// When `true`, `notify` fails with [`NotifyError::Unavailable`] and keeps nothing.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Notifier for InMemoryNotifier {
    async fn notify(&self, alert: &Alert) -> Result<(), NotifyError> {
        let mut state = self.lock();
        if state.unavailable {
            return Err(NotifyError::Unavailable(BackendError::msg(
                "in-memory notifier set unavailable",
            )));
        }
        state.alerts.push(alert.clone());
        Ok(())
    }
}
