//! [`HealthReport`]: the `application/health+json` document.

use std::collections::BTreeMap;

use biv_core::{CheckResult, Status, Timestamp};
use serde::{Deserialize, Serialize};

/// The media type of a [`HealthReport`].
pub const HEALTH_JSON: &str = "application/health+json";

/// One check object of health+json: the result of one monitor at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CheckEntry {
    /// The key this entry is listed under (`component:measurement`); not serialised in the entry.
    #[serde(skip)]
    pub name: String,
    /// `component`, `datastore`, `system`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_type: Option<String>,
    /// The measured value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_value: Option<f64>,
    /// The unit of `observedValue` (`ms`, `percent`, `bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_unit: Option<String>,
    /// `pass`, `warn` or `fail` (after criticality was applied).
    pub status: Status,
    /// When the result was taken, RFC 3339 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// What is wrong; absent for `pass`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl CheckEntry {
    /// An entry for check `name` from a monitor's result taken at `time`.
    pub fn new(
        name: impl Into<String>,
        component_type: impl Into<String>,
        result: CheckResult,
        time: Timestamp,
    ) -> Self {
        let output = if result.status == Status::Pass {
            None
        } else {
            result.output
        };
        CheckEntry {
            name: name.into(),
            component_type: Some(component_type.into()),
            observed_value: result.observed_value.filter(|v| v.is_finite()),
            observed_unit: result.observed_unit,
            status: result.status,
            time: Some(time.to_string()),
            output,
        }
    }
}

/// An `application/health+json` document (draft-inadarei-api-health-check-06): the overall
/// `status` and the `checks`, keyed `component:measurement`, each an array of check objects.
///
/// The overall status is the worst of the checks (`pass` when there are none). The format is
/// specified in `docs/formats/health-json.md`.
///
/// ```
/// use biv_availability::health::{CheckEntry, HealthReport};
/// use biv_core::{CheckResult, Status, Timestamp};
///
/// let mut report = HealthReport::new();
/// report.push(CheckEntry::new("disk:free", "system",
///     CheckResult::warn("8% free").with_observed(8.0, "percent"), Timestamp::UNIX_EPOCH));
/// assert_eq!(report.status, Status::Warn);
/// assert_eq!(report.http_status(), 200);
/// assert_eq!(report.to_json(),
///     r#"{"status":"warn","checks":{"disk:free":[{"componentType":"system","observedValue":8.0,"observedUnit":"percent","status":"warn","time":"1970-01-01T00:00:00Z","output":"8% free"}]}}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HealthReport {
    /// The worst status of all checks.
    pub status: Status,
    /// The checks by `component:measurement` key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, Vec<CheckEntry>>,
}

impl Default for HealthReport {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthReport {
    /// An empty, passing report.
    pub fn new() -> Self {
        HealthReport {
            status: Status::Pass,
            checks: BTreeMap::new(),
        }
    }

    /// Adds a check object under its name and folds its status into the overall status.
    pub fn push(&mut self, entry: CheckEntry) {
        self.status = self.status.max(entry.status);
        self.checks
            .entry(entry.name.clone())
            .or_default()
            .push(entry);
    }

    /// 200 for `pass` and `warn`, 503 for `fail`.
    pub fn http_status(&self) -> u16 {
        self.status.http_status()
    }

    /// The document as compact JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain strings, numbers and maps with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"status":"fail"}"#.to_owned())
    }

    /// Parses a health+json document (keys of the check objects are restored into `name`).
    ///
    /// # Errors
    /// The JSON error when `text` is not a health+json document.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let mut report: HealthReport = serde_json::from_str(text)?;
        for (key, entries) in &mut report.checks {
            for entry in entries {
                entry.name.clone_from(key);
            }
        }
        Ok(report)
    }
}
