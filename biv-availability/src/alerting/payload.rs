//! The JSON body of Alertmanager's `POST /api/v2/alerts` (`postableAlerts`).

use std::collections::BTreeMap;

use biv_core::{Alert, Redactor};
use serde::Serialize;

/// One `postableAlert`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert<'a> {
    labels: BTreeMap<&'a str, String>,
    annotations: BTreeMap<&'a str, String>,
    starts_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_at: Option<String>,
    #[serde(rename = "generatorURL", skip_serializing_if = "Option::is_none")]
    generator_url: Option<String>,
}

/// The request body for `alerts`: a JSON array of `postableAlert`. Label and annotation values
/// and the generator URL pass through `redactor` first, so personal data in a message never
/// reaches a pager.
pub(crate) fn postable_alerts(alerts: &[&Alert], redactor: Option<&dyn Redactor>) -> Vec<u8> {
    let clean = |value: &str| match redactor {
        Some(r) => r.redact(value).into_owned(),
        None => value.to_owned(),
    };
    let body: Vec<PostableAlert<'_>> = alerts
        .iter()
        .map(|alert| PostableAlert {
            labels: alert
                .labels()
                .iter()
                .map(|(k, v)| (k.as_str(), clean(v)))
                .collect(),
            annotations: alert
                .annotations()
                .iter()
                .map(|(k, v)| (k.as_str(), clean(v)))
                .collect(),
            starts_at: alert.starts_at().to_rfc3339_millis(),
            ends_at: alert.ends_at().map(|t| t.to_rfc3339_millis()),
            generator_url: alert.generator_url().map(clean),
        })
        .collect();
    // Serialising maps of strings cannot fail; an empty array is the harmless fallback.
    serde_json::to_vec(&body).unwrap_or_else(|_| b"[]".to_vec())
}

#[cfg(test)]
mod tests {
    use biv_core::{Severity, Timestamp};

    use super::*;

    #[test]
    fn the_body_has_alertmanagers_field_names() {
        let start = Timestamp::from_unix_seconds(1_800_000_000, 0).unwrap();
        let alert = Alert::new("BivDiskFilling", Severity::Warning, start)
            .unwrap()
            .with_label("instance", "web-1")
            .unwrap()
            .with_annotation("summary", "disk full in 2 h")
            .with_generator_url("http://web-1/metrics")
            .resolved_at(
                start
                    .checked_add(std::time::Duration::from_secs(60))
                    .unwrap(),
            )
            .unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(&postable_alerts(&[&alert], None)).unwrap();
        assert_eq!(
            body,
            serde_json::json!([{
                "labels": {"alertname": "BivDiskFilling", "instance": "web-1", "severity": "warning"},
                "annotations": {"summary": "disk full in 2 h"},
                "startsAt": "2027-01-15T08:00:00.000Z",
                "endsAt": "2027-01-15T08:01:00.000Z",
                "generatorURL": "http://web-1/metrics"
            }])
        );
    }
}
