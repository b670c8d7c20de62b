//! The JSON body of Alertmanager's `POST /api/v2/alerts` (`postableAlerts`).

use std::collections::BTreeMap;

use biv_core::{Alert, Redactor};
use serde::Serialize;

/// One `postableAlert`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert<'a> {
    labels: BTreeMap<&'a str, String>,
    annotations: BTreeMap<String, String>,
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
            annotations: annotations(alert, &clean),
            starts_at: alert.starts_at().to_rfc3339_millis(),
            ends_at: alert.ends_at().map(|t| t.to_rfc3339_millis()),
            generator_url: alert.generator_url().map(clean),
        })
        .collect();
    // Serialising maps of strings cannot fail; an empty array is the harmless fallback.
    serde_json::to_vec(&body).unwrap_or_else(|_| b"[]".to_vec())
}

/// The annotations under names Alertmanager accepts: it refuses a whole alert whose annotation
/// name is not a label name (`[a-zA-Z_][a-zA-Z0-9_]*`), so `runbook-url` would cost the page.
/// Other characters become `_` (and a leading digit or an empty name gets one in front), as
/// Prometheus does for label names. Valid names keep theirs; a changed name that then repeats
/// another gets `_2`, `_3`, ….
fn annotations(alert: &Alert, clean: &dyn Fn(&str) -> String) -> BTreeMap<String, String> {
    let is_valid = |name: &str| {
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut out: BTreeMap<String, String> = alert
        .annotations()
        .iter()
        .filter(|(name, _)| is_valid(name))
        .map(|(name, value)| (name.clone(), clean(value)))
        .collect();
    for (name, value) in alert.annotations().iter().filter(|(n, _)| !is_valid(n)) {
        let mut valid: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if !valid.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            valid.insert(0, '_');
        }
        let mut unique = valid.clone();
        let mut n = 2;
        while out.contains_key(&unique) {
            unique = format!("{valid}_{n}");
            n += 1;
        }
        out.insert(unique, clean(value));
    }
    out
}

#[cfg(test)]
mod tests {
    use biv_core::{Severity, Timestamp};

    use super::*;

    #[test]
    fn annotation_names_are_made_ones_alertmanager_accepts() {
        let start = Timestamp::from_unix_seconds(1_800_000_000, 0).unwrap();
        let alert = Alert::new("BivDiskFilling", Severity::Warning, start)
            .unwrap()
            .with_annotation("runbook-url", "a")
            .with_annotation("runbook_url", "b")
            .with_annotation("1st", "c")
            .with_annotation("", "d")
            .with_annotation("ok", "e");
        let body: serde_json::Value =
            serde_json::from_slice(&postable_alerts(&[&alert], None)).unwrap();
        assert_eq!(
            body[0]["annotations"],
            serde_json::json!({
                "_": "d", "_1st": "c", "ok": "e", "runbook_url": "b", "runbook_url_2": "a"
            })
        );
    }

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
