//! Prometheus text format 0.0.4 and OpenMetrics 1.0 text, and content negotiation.

use std::fmt::Write as _;

use super::family::{MetricFamily, MetricKind, SampleValue};

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `text/plain; version=0.0.4`.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(&self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// Picks the format from an `Accept` header: OpenMetrics when
    /// `application/openmetrics-text` (version absent or 1.0.0) is accepted with a quality at
    /// least that of `text/plain` and `*/*`; the Prometheus text format otherwise.
    ///
    /// ```
    /// use biv_availability::metrics::Format;
    /// // what Prometheus 2.x sends
    /// let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// assert_eq!(Format::negotiate(Some(prom)), Format::OpenMetrics);
    /// assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
    /// assert_eq!(Format::negotiate(None), Format::Prometheus);
    /// ```
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Prometheus;
        };
        let mut om = 0.0f64;
        let mut text = 0.0f64;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let mut q = 1.0f64;
            let mut version = None;
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    match k.trim().to_ascii_lowercase().as_str() {
                        "q" => q = v.trim().parse().unwrap_or(0.0),
                        "version" => version = Some(v.trim().to_owned()),
                        _ => {}
                    }
                }
            }
            match media.as_str() {
                "application/openmetrics-text"
                    if version.as_deref().is_none_or(|v| v == "1.0.0") =>
                {
                    om = om.max(q);
                }
                "text/plain" | "text/*" | "*/*" => text = text.max(q),
                _ => {}
            }
        }
        if om > 0.0 && om >= text {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

fn escape_help(out: &mut String, s: &str, format: Format) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if format == Format::OpenMetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

fn escape_label(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

fn push_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// A bucket bound: OpenMetrics wants canonical floats (`1.0`, not `1`), as client_python's
/// `floatToGoString` writes them.
fn push_le(out: &mut String, le: f64, format: Format) {
    if le.is_finite() && format == Format::OpenMetrics {
        let _ = write!(out, "{le:?}");
    } else {
        push_float(out, le);
    }
}

fn push_labels(out: &mut String, labels: &[(String, String)], le: Option<(f64, Format)>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (k, v) in labels {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(k);
        out.push_str("=\"");
        escape_label(out, v);
        out.push('"');
    }
    if let Some((le, format)) = le {
        if !first {
            out.push(',');
        }
        out.push_str("le=\"");
        push_le(out, le, format);
        out.push('"');
    }
    out.push('}');
}

/// Encodes families in `format`. Counters are written as `<name>_total`; in the Prometheus
/// format the `# HELP`/`# TYPE` lines name `<name>_total` too, in OpenMetrics they name the
/// family `<name>`. OpenMetrics output ends with `# EOF`.
///
/// ```
/// use biv_availability::metrics::{Format, MetricFamily, MetricKind, Sample, SampleValue, encode};
/// let f = MetricFamily::new("up", "Whether the service is up.", MetricKind::Gauge)
///     .with_sample(Sample::new(vec![], SampleValue::Gauge(1.0)));
/// assert_eq!(
///     encode(&[f.clone()], Format::Prometheus),
///     "# HELP up Whether the service is up.\n# TYPE up gauge\nup 1\n"
/// );
/// assert!(encode(&[f], Format::OpenMetrics).ends_with("up 1\n# EOF\n"));
/// ```
pub fn encode(families: &[MetricFamily], format: Format) -> String {
    let mut out = String::with_capacity(256 * families.len().max(1));
    for f in families {
        let (type_name, sample_name) = match (f.kind, format) {
            (MetricKind::Counter, Format::Prometheus) => {
                (format!("{}_total", f.name), format!("{}_total", f.name))
            }
            (MetricKind::Counter, Format::OpenMetrics) => {
                (f.name.clone(), format!("{}_total", f.name))
            }
            _ => (f.name.clone(), f.name.clone()),
        };
        let kind = match f.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        };
        out.push_str("# HELP ");
        out.push_str(&type_name);
        out.push(' ');
        escape_help(&mut out, &f.help, format);
        out.push('\n');
        let _ = writeln!(out, "# TYPE {type_name} {kind}");
        for s in &f.samples {
            match &s.value {
                SampleValue::Counter(v) => {
                    out.push_str(&sample_name);
                    push_labels(&mut out, &s.labels, None);
                    let _ = writeln!(out, " {v}");
                }
                SampleValue::FloatCounter(v) | SampleValue::Gauge(v) => {
                    out.push_str(&sample_name);
                    push_labels(&mut out, &s.labels, None);
                    out.push(' ');
                    push_float(&mut out, *v);
                    out.push('\n');
                }
                SampleValue::Histogram {
                    buckets,
                    sum,
                    count,
                } => {
                    for (le, c) in buckets {
                        out.push_str(&sample_name);
                        out.push_str("_bucket");
                        push_labels(&mut out, &s.labels, Some((*le, format)));
                        let _ = writeln!(out, " {c}");
                    }
                    out.push_str(&sample_name);
                    out.push_str("_sum");
                    push_labels(&mut out, &s.labels, None);
                    out.push(' ');
                    push_float(&mut out, *sum);
                    out.push('\n');
                    out.push_str(&sample_name);
                    out.push_str("_count");
                    push_labels(&mut out, &s.labels, None);
                    let _ = writeln!(out, " {count}");
                }
            }
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}
