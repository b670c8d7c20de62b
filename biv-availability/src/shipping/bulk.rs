//! The Elasticsearch `_bulk` request and response (pure functions).
//!
//! Request: NDJSON, per record an action line `{"create":{"_index":…,"_id":…}}` and the
//! record's ECS line, every line ending in `\n`. Response: `{"took","errors","items":[…]}`, one
//! item per action in request order, each `{"create":{"_index","_id","status",…}}`.

use biv_core::{LogRecord, RecordId};

use super::stats::RetryReason;

/// Whether `name` is a valid Elasticsearch index (or data stream) name: lower case, at most
/// 255 bytes, not `.` or `..`, not starting with `-`, `_` or `+`, none of
/// `\ / * ? " < > | , # :` or space.
pub fn valid_index_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.starts_with(['-', '_', '+'])
        && name.chars().all(|c| {
            !c.is_uppercase()
                && !c.is_control()
                && !matches!(
                    c,
                    '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ',' | '#' | ':' | ' '
                )
        })
}

/// The 32 lower-case hex digits of a record id (its `Display` form, without formatting
/// machinery: this runs once per record shipped).
pub(crate) fn id_hex(id: &RecordId) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, b) in id.as_bytes().iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
    out
}

/// Appends the `create` action and the source line of `record` to `out`. `index` must be a
/// valid index name (it is written as it is).
pub(crate) fn push_create(index: &str, record: &LogRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"create":{"_index":""#);
    out.extend_from_slice(index.as_bytes());
    out.extend_from_slice(br#"","_id":""#);
    out.extend_from_slice(&id_hex(&record.id()));
    out.extend_from_slice(b"\"}}\n");
    out.extend_from_slice(record.line().as_bytes());
    out.push(b'\n');
}

/// One item of a `_bulk` response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// `_id`, when the item has one.
    pub(crate) id: Option<String>,
    /// The item's HTTP status.
    pub(crate) status: u16,
    /// `error.type` and `error.reason`, when the item failed.
    pub(crate) error: Option<(String, String)>,
}

/// The result object inside an item, as Elasticsearch writes it (other keys are ignored).
#[derive(serde::Deserialize)]
struct RawResult<'a> {
    #[serde(rename = "_id", borrow, default)]
    id: Option<std::borrow::Cow<'a, str>>,
    status: u16,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// An item: a one-key object `{"<op>": {…}}`; the operation name is not needed.
struct RawItem<'a>(RawResult<'a>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for RawItem<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = RawItem<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a bulk item object with one operation key")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut result = None;
                while map.next_key::<serde::de::IgnoredAny>()?.is_some() {
                    result = Some(map.next_value::<RawResult<'a>>()?);
                }
                result
                    .map(RawItem)
                    .ok_or_else(|| serde::de::Error::custom("empty bulk item"))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

#[derive(serde::Deserialize)]
struct RawResponse<'a> {
    #[serde(borrow)]
    items: Vec<RawItem<'a>>,
}

/// The items of a `_bulk` response body; `None` when it is not a `_bulk` response.
pub(crate) fn parse_response(body: &[u8]) -> Option<Vec<Item>> {
    let response: RawResponse<'_> = serde_json::from_slice(body).ok()?;
    Some(
        response
            .items
            .into_iter()
            .map(|RawItem(r)| Item {
                id: r.id.map(std::borrow::Cow::into_owned),
                status: r.status,
                error: r.error.map(|e| {
                    let text = |k: &str| {
                        e.get(k)
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    (text("type"), text("reason"))
                }),
            })
            .collect(),
    )
}

/// What the shipper does with an item (or a single-record request) answered `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Stored (200, 201): acknowledge.
    Delivered,
    /// Already stored under this `_id` (409 on `create`): delivered before, acknowledge.
    Conflict,
    /// Try again later.
    Retry(RetryReason),
    /// Refused for good (400 and the other 4xx not listed): dead-letter and acknowledge.
    DeadLetter,
}

/// The class of an item status.
pub(crate) fn classify(status: u16) -> Class {
    match status {
        200 | 201 => Class::Delivered,
        409 => Class::Conflict,
        429 => Class::Retry(RetryReason::Throttled),
        // No permission or no such index: configuration, not the record; keep it.
        401 | 403 | 404 | 408 => Class::Retry(RetryReason::Refused),
        400..=499 => Class::DeadLetter,
        _ => Class::Retry(RetryReason::ServerError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use biv_core::{Dataset, Level, Timestamp};

    #[test]
    fn the_request_is_create_actions_with_the_record_id_and_ends_with_a_newline() {
        let rec = LogRecord::new(
            RecordId::from_bytes([0xab; 16]),
            Timestamp::UNIX_EPOCH,
            Level::Info,
            Dataset::System,
            r#"{"message":"a"}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        push_create("biv-logs", &rec, &mut out);
        let text = String::from_utf8(out).unwrap();
        let id = "ab".repeat(16);
        assert_eq!(
            text,
            format!(
                "{{\"create\":{{\"_index\":\"biv-logs\",\"_id\":\"{id}\"}}}}\n{{\"message\":\"a\"}}\n"
            )
        );
        let action: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(action["create"]["_id"], id.as_str());
    }

    #[test]
    fn responses_are_read_in_order_with_status_and_error() {
        // elasticsearch-specification BulkResponseExample2's shape: a 404 next to a 201.
        let body = br#"{"took":30,"errors":true,"items":[
            {"create":{"_index":"i","_id":"1","status":201,"result":"created"}},
            {"update":{"_index":"i","_id":"2","status":404,"error":{"type":"document_missing_exception","reason":"[2]: document missing"}}}]}"#;
        let items = parse_response(body).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].status, 201);
        assert_eq!(items[0].id.as_deref(), Some("1"));
        assert_eq!(
            items[1].error,
            Some((
                "document_missing_exception".into(),
                "[2]: document missing".into()
            ))
        );
        assert_eq!(parse_response(b"{\"error\":\"x\"}"), None);
        assert_eq!(parse_response(br#"{"items":[{}]}"#), None);
        let id =
            RecordId::from_bytes([0x0f, 0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0xff]);
        assert_eq!(id_hex(&id).as_slice(), id.to_string().as_bytes());
        assert_eq!(parse_response(b"not json"), None);
    }

    #[test]
    fn statuses_are_classified_as_documented() {
        assert_eq!(classify(201), Class::Delivered);
        assert_eq!(classify(200), Class::Delivered);
        assert_eq!(classify(409), Class::Conflict);
        assert_eq!(classify(429), Class::Retry(RetryReason::Throttled));
        assert_eq!(classify(503), Class::Retry(RetryReason::ServerError));
        assert_eq!(classify(500), Class::Retry(RetryReason::ServerError));
        assert_eq!(classify(400), Class::DeadLetter);
        assert_eq!(classify(422), Class::DeadLetter);
        assert_eq!(classify(404), Class::Retry(RetryReason::Refused));
    }

    #[test]
    fn index_names_follow_elasticsearch_rules() {
        for ok in ["biv-logs", "logs-ehr.api-2026.11", "ä-logs"] {
            assert!(valid_index_name(ok), "{ok}");
        }
        for bad in [
            "", "Biv", "_x", "-x", "+x", ".", "..", "a b", "a/b", "a\"b", "a,b", "a:b", "a#b",
        ] {
            assert!(!valid_index_name(bad), "{bad}");
        }
        assert!(!valid_index_name(&"a".repeat(256)));
    }
}
