//! Writes the digest's document as CommonMark with GFM tables.

use std::fmt::Write as _;

use super::render::{Block, Inline};

/// The Markdown text of a document.
pub(crate) fn write(title: &str, blocks: &[Block]) -> String {
    let mut out = String::new();
    out.push_str("# ");
    push_text(&mut out, title, false);
    out.push_str("\n\n");
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                for _ in 0..*level {
                    out.push('#');
                }
                out.push(' ');
                push_text(&mut out, text, false);
                out.push_str("\n\n");
            }
            Block::Paragraph(inlines) => {
                push_inlines(&mut out, inlines, false);
                out.push_str("\n\n");
            }
            Block::List(items) => {
                for item in items {
                    out.push_str("- ");
                    push_inlines(&mut out, item, false);
                    out.push('\n');
                }
                out.push('\n');
            }
            Block::Table { headers, rows } => {
                out.push('|');
                for h in headers {
                    out.push(' ');
                    push_text(&mut out, h, true);
                    out.push_str(" |");
                }
                out.push_str("\n|");
                for _ in headers {
                    out.push_str("---|");
                }
                out.push('\n');
                for row in rows {
                    out.push('|');
                    for c in row {
                        out.push(' ');
                        push_inlines(&mut out, c, true);
                        out.push_str(" |");
                    }
                    out.push('\n');
                }
                out.push('\n');
            }
        }
    }
    out
}

fn push_inlines(out: &mut String, inlines: &[Inline], cell: bool) {
    for inline in inlines {
        match inline {
            Inline::Text(t) => push_text(out, t, cell),
            Inline::Strong(t) => {
                out.push_str("**");
                push_text(out, t, cell);
                out.push_str("**");
            }
            Inline::Code(t) => push_code(out, t, cell),
        }
    }
}

/// Text with every character that could start markup, an HTML tag or an entity escaped by a
/// backslash (CommonMark allows that for any ASCII punctuation), and line breaks as spaces, so
/// a log message can neither inject HTML nor break a table. A word GitHub would turn into a
/// link by itself (GFM's autolinks: `http://…`, `www.…`, an e-mail address, `mailto:`) is put in
/// a code span instead, where nothing is linked: a reviewer sees the address an attacker
/// logged, and cannot click it.
fn push_text(out: &mut String, text: &str, cell: bool) {
    let mut word_start = 0;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            push_word(out, &text[word_start..i], cell);
            push_text_chars(out, &text[i..i + c.len_utf8()]);
            word_start = i + c.len_utf8();
        }
    }
    push_word(out, &text[word_start..], cell);
}

fn push_word(out: &mut String, word: &str, cell: bool) {
    let lower = word.to_ascii_lowercase();
    let links = ["://", "www.", "@", "mailto:", "xmpp:"]
        .iter()
        .any(|p| lower.contains(p));
    if links {
        push_code(out, word, cell);
    } else {
        push_text_chars(out, word);
    }
}

fn push_text_chars(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '!' | '|' | '&' | '~' | '{'
            | '}' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
}

/// A code span fenced by more backticks than the text holds in a row; in a table cell `|` is
/// escaped so the cell is not split (GFM removes that backslash; elsewhere it would show).
fn push_code(out: &mut String, text: &str, cell: bool) {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut longest = 0;
    let mut current = 0;
    for c in clean.chars() {
        current = if c == '`' { current + 1 } else { 0 };
        longest = longest.max(current);
    }
    let fence = "`".repeat(longest + 1);
    let pad = clean.starts_with('`') || clean.ends_with('`') || clean.is_empty();
    let _ = write!(out, "{fence}{}", if pad { " " } else { "" });
    if cell {
        out.push_str(&clean.replace('|', "\\|"));
    } else {
        out.push_str(&clean);
    }
    let _ = write!(out, "{}{fence}", if pad { " " } else { "" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_code_cannot_inject() {
        let mut out = String::new();
        push_text(&mut out, "<script>alert(1)</script> & | *x*\nnext", true);
        assert_eq!(
            out,
            "\\<script\\>alert(1)\\</script\\> \\& \\| \\*x\\* next"
        );
        let mut out = String::new();
        push_code(&mut out, "a`b``c|d", true);
        assert_eq!(out, "```a`b``c\\|d```");
        // Outside a table a backslash would show: `|` stays as it is.
        let mut out = String::new();
        push_code(&mut out, "a|b", false);
        assert_eq!(out, "`a|b`");
        let mut out = String::new();
        push_code(&mut out, "`x", true);
        assert_eq!(out, "`` `x ``");
    }

    #[test]
    fn words_github_would_link_are_code() {
        let mut out = String::new();
        push_text(
            &mut out,
            "login from https://evil.example/reset?a=1, see (www.evil.example) or mail ops@evil.example MAILTO:x now",
            false,
        );
        assert_eq!(
            out,
            "login from `https://evil.example/reset?a=1,` see `(www.evil.example)` or mail `ops@evil.example` `MAILTO:x` now"
        );
        // Nothing else changes: a time, a path, a ratio.
        let mut out = String::new();
        push_text(&mut out, "at 12:30 in /var/log: 3/4 done\tok", false);
        assert_eq!(out, "at 12:30 in /var/log: 3/4 done ok");
    }
}
