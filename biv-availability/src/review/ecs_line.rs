//! Reading one ECS log line back: the fields the digest uses, found under dotted top-level keys
//! (as biv's `EcsLayer` writes them) or nested objects (as other ECS loggers may).

use biv_core::Timestamp;
use serde_json::{Map, Value};

/// The fields of one ECS line the digest looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EcsRecord {
    pub(crate) time: Timestamp,
    /// `log.level`, lower case.
    pub(crate) level: String,
    pub(crate) service: Option<String>,
    pub(crate) node: Option<String>,
    pub(crate) dataset: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) error_type: Option<String>,
    pub(crate) error_message: Option<String>,
    /// `labels.sequence` of a heartbeat (`event.action = "heartbeat"`).
    pub(crate) heartbeat: Option<u64>,
}

/// Parses a line; `None` when it is not a JSON object with an RFC 3339 `@timestamp` and a
/// string `log.level` (the two keys ecs-logging requires besides `ecs.version`, which other
/// loggers do not always write).
pub(crate) fn parse(line: &[u8]) -> Option<EcsRecord> {
    let map: Map<String, Value> = serde_json::from_slice(line).ok()?;
    let time = Timestamp::parse_rfc3339(text(&map, "@timestamp")?).ok()?;
    let level = text(&map, "log.level")?.trim().to_ascii_lowercase();
    if level.is_empty() {
        return None;
    }
    let heartbeat = if text(&map, "event.action") == Some("heartbeat") {
        match lookup(&map, "labels.sequence") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
    } else {
        None
    };
    let owned = |key: &str| text(&map, key).map(str::to_owned);
    Some(EcsRecord {
        time,
        level,
        service: owned("service.name"),
        node: owned("service.node.name"),
        dataset: owned("event.dataset"),
        message: owned("message"),
        error_type: owned("error.type"),
        error_message: owned("error.message"),
        heartbeat,
    })
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    lookup(map, key)?.as_str()
}

/// `key` as a dotted top-level key, or as a path through nested objects, or a mix
/// (`{"log": {"level": …}}`, `{"service": {"node.name": …}}`).
fn lookup<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(v) = map.get(key) {
        return Some(v);
    }
    key.match_indices('.').find_map(|(i, _)| {
        let (head, rest) = (key.get(..i)?, key.get(i + 1..)?);
        match map.get(head) {
            Some(Value::Object(inner)) => lookup(inner, rest),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dotted_nested_and_mixed_keys() {
        let dotted = parse(br#"{"@timestamp":"2026-11-26T09:30:00.123Z","log.level":"ERROR","message":"m","service.name":"a","error.type":"T","event.action":"heartbeat","labels":{"sequence":4}}"#).unwrap();
        assert_eq!(dotted.level, "error");
        assert_eq!(dotted.service.as_deref(), Some("a"));
        assert_eq!(dotted.error_type.as_deref(), Some("T"));
        assert_eq!(dotted.heartbeat, Some(4));
        let nested = parse(br#"{"@timestamp":"2026-11-26T09:30:00Z","log":{"level":"warn"},"service":{"name":"b","node.name":"n1"},"error":{"message":"boom"}}"#).unwrap();
        assert_eq!(nested.level, "warn");
        assert_eq!(nested.node.as_deref(), Some("n1"));
        assert_eq!(nested.error_message.as_deref(), Some("boom"));
        assert_eq!(nested.heartbeat, None);
    }

    #[test]
    fn rejects_lines_that_do_not_conform() {
        for line in [
            &b"not json"[..],
            br#"[1,2]"#,
            br#"{"log.level":"info"}"#,
            br#"{"@timestamp":"yesterday","log.level":"info"}"#,
            br#"{"@timestamp":"2026-11-26T09:30:00Z","log.level":3}"#,
            br#"{"@timestamp":"2026-11-26T09:30:00Z","log.level":" "}"#,
            b"\xff\xfe{}",
        ] {
            assert!(parse(line).is_none(), "{}", String::from_utf8_lossy(line));
        }
    }
}
