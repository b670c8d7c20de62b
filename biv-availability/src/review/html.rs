//! Writes the digest's document as one self-contained HTML page: inline style, no scripts, no
//! external resources, and a Content-Security-Policy that would block them anyway.

use super::render::{Block, Inline};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}\
th,td{border:1px solid #bbb;padding:0.25em 0.5em;text-align:left;vertical-align:top}\
th{background:#eee}code{font-family:ui-monospace,monospace;word-break:break-all}\
strong{color:#a00}";

/// The HTML page of a document.
pub(crate) fn write(title: &str, blocks: &[Block]) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n<title>");
    escape(&mut out, title);
    out.push_str("</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<h1>");
    escape(&mut out, title);
    out.push_str("</h1>\n");
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let level = (*level).clamp(2, 6);
                out.push_str(&format!("<h{level}>"));
                escape(&mut out, text);
                out.push_str(&format!("</h{level}>\n"));
            }
            Block::Paragraph(inlines) => {
                out.push_str("<p>");
                push_inlines(&mut out, inlines);
                out.push_str("</p>\n");
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    out.push_str("<li>");
                    push_inlines(&mut out, item);
                    out.push_str("</li>\n");
                }
                out.push_str("</ul>\n");
            }
            Block::Table { headers, rows } => {
                out.push_str("<table>\n<thead><tr>");
                for h in headers {
                    out.push_str("<th>");
                    escape(&mut out, h);
                    out.push_str("</th>");
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for c in row {
                        out.push_str("<td>");
                        push_inlines(&mut out, c);
                        out.push_str("</td>");
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn push_inlines(out: &mut String, inlines: &[Inline]) {
    for inline in inlines {
        let (open, close, text) = match inline {
            Inline::Text(t) => ("", "", t),
            Inline::Strong(t) => ("<strong>", "</strong>", t),
            Inline::Code(t) => ("<code>", "</code>", t),
        };
        out.push_str(open);
        escape(out, text);
        out.push_str(close);
    }
}

/// Escapes text for element content and quoted attribute values.
fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        let mut out = String::new();
        escape(&mut out, "<a href=\"x\" onclick='y'>&amp;</a>\u{0}");
        assert_eq!(
            out,
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;\u{fffd}"
        );
    }
}
