//! The path patterns of code-owner rules: a small, documented subset of CODEOWNERS globs.

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// A literal byte.
    Byte(u8),
    /// `?`: one byte other than `/`.
    One,
    /// `*`: any run of bytes without `/`.
    Star,
    /// `**`: any run of bytes, `/` included.
    AnyPath,
    /// `**/`: zero or more whole directories.
    AnyDirs,
}

/// A compiled pattern.
///
/// - `dir/` matches everything under `dir`;
/// - a pattern without `/` (`*.sql`) matches a file name in any directory;
/// - otherwise the whole path is matched (a leading `/` is ignored), where `*` and `?` stay
///   within one path segment, `**` crosses segments and `**/` matches zero or more directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    tokens: Vec<Token>,
    basename_only: bool,
}

impl Glob {
    /// Compiles a pattern; `None` when it is empty.
    pub(crate) fn new(pattern: &str) -> Option<Glob> {
        let trimmed = pattern.trim();
        if trimmed.is_empty() || trimmed == "/" {
            return None;
        }
        let basename_only = !trimmed.contains('/');
        let mut text = trimmed.strip_prefix('/').unwrap_or(trimmed).to_owned();
        if text.ends_with('/') {
            text.push_str("**");
        }
        let bytes = text.as_bytes();
        let mut tokens = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'*' if bytes.get(i + 1) == Some(&b'*') => {
                    if bytes.get(i + 2) == Some(&b'/') {
                        tokens.push(Token::AnyDirs);
                        i += 3;
                    } else {
                        tokens.push(Token::AnyPath);
                        i += 2;
                    }
                }
                b'*' => {
                    tokens.push(Token::Star);
                    i += 1;
                }
                b'?' => {
                    tokens.push(Token::One);
                    i += 1;
                }
                b => {
                    tokens.push(Token::Byte(b));
                    i += 1;
                }
            }
        }
        Some(Glob {
            tokens,
            basename_only,
        })
    }

    /// Whether the path matches.
    pub(crate) fn matches(&self, path: &str) -> bool {
        let path = path.strip_prefix('/').unwrap_or(path);
        let text = if self.basename_only {
            path.rsplit('/').next().unwrap_or(path)
        } else {
            path
        };
        matches_tokens(&self.tokens, text.as_bytes())
    }
}

/// Dynamic programming over (token, byte) positions: `at[j]` says whether the tokens from the
/// current one on match `text[j..]`. Quadratic at worst, never exponential.
fn matches_tokens(tokens: &[Token], text: &[u8]) -> bool {
    let n = text.len();
    // After the last token only the empty rest matches.
    let mut next: Vec<bool> = (0..=n).map(|j| j == n).collect();
    for token in tokens.iter().rev() {
        let mut at = vec![false; n + 1];
        for j in (0..=n).rev() {
            at[j] = match *token {
                Token::Byte(b) => j < n && text[j] == b && next[j + 1],
                Token::One => j < n && text[j] != b'/' && next[j + 1],
                Token::Star => next[j] || (j < n && text[j] != b'/' && at[j + 1]),
                Token::AnyPath => next[j] || (j < n && at[j + 1]),
                Token::AnyDirs => next[j] || (j + 1..=n).any(|k| text[k - 1] == b'/' && next[k]),
            };
        }
        next = at;
    }
    next[0]
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(pattern: &str, path: &str) -> bool {
        Glob::new(pattern).expect("pattern").matches(path)
    }

    #[test]
    fn patterns_follow_the_documented_rules() {
        assert!(m("config/", "config/nginx/site.conf"));
        assert!(!m("config/", "src/config.rs"));
        assert!(m("*.sql", "db/migrations/001.sql"));
        assert!(!m("*.sql", "db/sql/readme.md"));
        assert!(m("/src/*.rs", "src/lib.rs"));
        assert!(!m("src/*.rs", "src/a/lib.rs"));
        assert!(m("src/**", "src/a/b/lib.rs"));
        assert!(m("a/**/b", "a/b"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(!m("a/**/b", "a/xb"));
        assert!(m("docs/?.md", "docs/a.md"));
        assert!(!m("docs/?.md", "docs/ab.md"));
        assert!(Glob::new("  ").is_none());
        assert!(!m("**/secrets.yaml", "x/secrets.yml"));
        assert!(m("**/secrets.yaml", "secrets.yaml"));
    }
}
