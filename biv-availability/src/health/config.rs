//! [`HealthConfig`]: checks described in JSON, for `biv health check` and for hosts that
//! configure their checks from a file.

use std::sync::Arc;
use std::time::Duration;

use biv_core::{Clock, Monitor};
use serde::Deserialize;

use super::monitors::{
    DiskSpaceMonitor, HttpMonitor, MemoryMonitor, PostgresMonitor, TcpMonitor, WritableDirMonitor,
};
use super::registry::{CheckOptions, Group, HealthRegistry, HealthRegistryBuilder};

/// Why a health configuration was refused; `key` names the offending entry, e.g.
/// `checks[2].url`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
#[non_exhaustive]
pub struct HealthConfigError {
    /// The offending key (`checks[1].type`), or `(document)` when the JSON itself is broken.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl HealthConfigError {
    fn at(key: impl Into<String>, reason: impl Into<String>) -> Self {
        HealthConfigError {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    checks: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    groups: Option<Vec<String>>,
    #[serde(default)]
    critical: Option<bool>,
    #[serde(default)]
    interval_ms: Option<u64>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    warn_below_percent: Option<f64>,
    #[serde(default)]
    fail_below_percent: Option<f64>,
}

/// A set of checks read from JSON:
///
/// ```json
/// {"checks": [
///   {"name": "db:responseTime", "type": "tcp", "address": "127.0.0.1:5432"},
///   {"name": "api:responseTime", "type": "http", "url": "http://127.0.0.1:8080/health/live",
///    "groups": ["ready"], "critical": false, "timeout_ms": 1000, "interval_ms": 10000},
///   {"name": "postgres:responseTime", "type": "postgres", "url": "postgresql://app@127.0.0.1/app"},
///   {"name": "disk:free", "type": "disk", "path": "/var/lib/app",
///    "warn_below_percent": 10, "fail_below_percent": 5},
///   {"name": "memory:available", "type": "memory"},
///   {"name": "data:writable", "type": "writable_dir", "path": "/var/lib/app"}
/// ]}
/// ```
///
/// `groups` defaults to `["ready"]`, `critical` to `true`, `interval_ms` to 10000 and
/// `timeout_ms` to 2000. Unknown keys are refused.
///
/// ```
/// use std::sync::Arc;
/// use biv_availability::health::{Group, HealthConfig};
/// use biv_core::{Status, SystemClock};
///
/// let config = HealthConfig::from_json(r#"{"checks":[{"name":"tmp:writable","type":"writable_dir","path":"/tmp","groups":["live"]}]}"#)?;
/// let registry = config.build(Arc::new(SystemClock::new()));
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// registry.refresh_now().await;
/// assert_eq!(registry.report(&Group::Live).status, Status::Pass);
/// # });
/// assert!(HealthConfig::from_json(r#"{"checks":[{"name":"x:y","type":"tcp"}]}"#)
///     .unwrap_err().to_string().starts_with("checks[0].address"));
/// # Ok::<(), biv_availability::health::HealthConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct HealthConfig {
    checks: Vec<(Arc<dyn Monitor>, CheckOptions)>,
}

fn required<T>(value: Option<T>, key: &str, kind: &str) -> Result<T, HealthConfigError> {
    value.ok_or_else(|| HealthConfigError::at(key, format!("required for type {kind}")))
}

fn refuse_extra(check: &RawCheck, prefix: &str, allowed: &[&str]) -> Result<(), HealthConfigError> {
    let present = [
        ("address", check.address.is_some()),
        ("url", check.url.is_some()),
        ("path", check.path.is_some()),
        ("warn_below_percent", check.warn_below_percent.is_some()),
        ("fail_below_percent", check.fail_below_percent.is_some()),
    ];
    for (key, is_set) in present {
        if is_set && !allowed.contains(&key) {
            return Err(HealthConfigError::at(
                format!("{prefix}.{key}"),
                format!("not used by type {}", check.kind),
            ));
        }
    }
    Ok(())
}

fn thresholds(check: &RawCheck, prefix: &str) -> Result<(f64, f64), HealthConfigError> {
    let warn = check.warn_below_percent.unwrap_or(10.0);
    let fail = check.fail_below_percent.unwrap_or(5.0);
    for (key, value) in [("warn_below_percent", warn), ("fail_below_percent", fail)] {
        if !(0.0..=100.0).contains(&value) {
            return Err(HealthConfigError::at(
                format!("{prefix}.{key}"),
                "must be between 0 and 100",
            ));
        }
    }
    if fail > warn {
        return Err(HealthConfigError::at(
            format!("{prefix}.fail_below_percent"),
            "must not exceed warn_below_percent",
        ));
    }
    Ok((warn, fail))
}

fn parse_check(
    value: serde_json::Value,
    prefix: &str,
) -> Result<(Arc<dyn Monitor>, CheckOptions), HealthConfigError> {
    let check: RawCheck = serde_json::from_value(value).map_err(|e| {
        let message = e.to_string();
        let key = message
            .split('`')
            .nth(1)
            .filter(|_| {
                message.starts_with("unknown field") || message.starts_with("missing field")
            })
            .map_or_else(|| prefix.to_owned(), |field| format!("{prefix}.{field}"));
        HealthConfigError::at(key, message)
    })?;
    if check.name.is_empty()
        || check.name.len() > 128
        || !check.name.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(HealthConfigError::at(
            format!("{prefix}.name"),
            "must be 1-128 visible ASCII characters without spaces (component:measurement)",
        ));
    }
    let timeout = Duration::from_millis(check.timeout_ms.unwrap_or(2000));
    if timeout.is_zero() {
        return Err(HealthConfigError::at(
            format!("{prefix}.timeout_ms"),
            "must be positive",
        ));
    }
    let kind = check.kind.as_str();
    let monitor: Arc<dyn Monitor> = match kind {
        "tcp" => {
            refuse_extra(&check, prefix, &["address"])?;
            let address = required(check.address.clone(), &format!("{prefix}.address"), kind)?;
            Arc::new(TcpMonitor::new(&check.name, address).with_timeout(timeout))
        }
        "http" => {
            refuse_extra(&check, prefix, &["url"])?;
            let url = required(check.url.clone(), &format!("{prefix}.url"), kind)?;
            let monitor = HttpMonitor::new(&check.name, &url)
                .map_err(|e| HealthConfigError::at(format!("{prefix}.url"), e.to_string()))?;
            Arc::new(monitor.with_timeout(timeout))
        }
        "postgres" => {
            refuse_extra(&check, prefix, &["url"])?;
            let url = required(check.url.clone(), &format!("{prefix}.url"), kind)?;
            Arc::new(PostgresMonitor::new(&check.name, url).with_timeout(timeout))
        }
        "disk" => {
            refuse_extra(
                &check,
                prefix,
                &["path", "warn_below_percent", "fail_below_percent"],
            )?;
            let path = required(check.path.clone(), &format!("{prefix}.path"), kind)?;
            let (warn, fail) = thresholds(&check, prefix)?;
            Arc::new(
                DiskSpaceMonitor::new(&check.name, path)
                    .with_thresholds(warn, fail)
                    .with_timeout(timeout),
            )
        }
        "memory" => {
            refuse_extra(
                &check,
                prefix,
                &["warn_below_percent", "fail_below_percent"],
            )?;
            let (warn, fail) = thresholds(&check, prefix)?;
            Arc::new(MemoryMonitor::new(&check.name).with_thresholds(warn, fail))
        }
        "writable_dir" => {
            refuse_extra(&check, prefix, &["path"])?;
            let path = required(check.path.clone(), &format!("{prefix}.path"), kind)?;
            Arc::new(WritableDirMonitor::new(&check.name, path).with_timeout(timeout))
        }
        other => {
            return Err(HealthConfigError::at(
                format!("{prefix}.type"),
                format!(
                    "unknown type {other:?}; expected tcp, http, postgres, disk, memory or writable_dir"
                ),
            ));
        }
    };
    let groups = match &check.groups {
        None => vec![Group::Ready],
        Some(names) if names.is_empty() => {
            return Err(HealthConfigError::at(
                format!("{prefix}.groups"),
                "must not be empty",
            ));
        }
        Some(names) => {
            let mut groups = Vec::new();
            for (j, name) in names.iter().enumerate() {
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(HealthConfigError::at(
                        format!("{prefix}.groups[{j}]"),
                        "a group name is letters, digits, '-' and '_'",
                    ));
                }
                groups.push(Group::from_name(name));
            }
            groups
        }
    };
    let mut options = CheckOptions::new(groups)
        .interval(Duration::from_millis(check.interval_ms.unwrap_or(10_000)))
        .timeout(timeout);
    if check.critical == Some(false) {
        options = options.non_critical();
    }
    Ok((monitor, options))
}

impl HealthConfig {
    /// Parses and validates a configuration.
    ///
    /// # Errors
    /// [`HealthConfigError`] naming the first offending key.
    pub fn from_json(text: &str) -> Result<Self, HealthConfigError> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| {
            let message = e.to_string();
            let key =
                if message.starts_with("unknown field") || message.starts_with("missing field") {
                    message.split('`').nth(1).unwrap_or("(document)").to_owned()
                } else {
                    "(document)".to_owned()
                };
            HealthConfigError::at(key, message)
        })?;
        let mut checks = Vec::with_capacity(raw.checks.len());
        for (i, value) in raw.checks.into_iter().enumerate() {
            checks.push(parse_check(value, &format!("checks[{i}]"))?);
        }
        Ok(HealthConfig { checks })
    }

    /// The number of checks.
    pub fn len(&self) -> usize {
        self.checks.len()
    }

    /// Whether there are no checks.
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// A registry with these checks, stamping results with `clock`.
    pub fn build(&self, clock: Arc<dyn Clock>) -> HealthRegistry {
        self.add_to(HealthRegistry::builder(clock)).build()
    }

    /// Adds these checks to `builder`, next to checks the host registers itself.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use biv_availability::health::{CheckOptions, Group, HealthConfig, HealthRegistry, WritableDirMonitor};
    /// use biv_core::SystemClock;
    ///
    /// let dependencies = HealthConfig::from_json(
    ///     r#"{"checks":[{"name":"postgres:connect","type":"tcp","address":"127.0.0.1:5432"}]}"#,
    /// )?;
    /// let builder = HealthRegistry::builder(Arc::new(SystemClock::new())).check(
    ///     WritableDirMonitor::new("data:writable", std::env::temp_dir()),
    ///     CheckOptions::new([Group::Startup, Group::Ready]),
    /// );
    /// let registry = dependencies.add_to(builder).build();
    /// assert!(registry.has_group(&Group::Ready));
    /// # Ok::<(), biv_availability::health::HealthConfigError>(())
    /// ```
    pub fn add_to(&self, builder: HealthRegistryBuilder) -> HealthRegistryBuilder {
        self.checks
            .iter()
            .fold(builder, |builder, (monitor, options)| {
                builder.check_arc(Arc::clone(monitor), options.clone())
            })
    }
}
