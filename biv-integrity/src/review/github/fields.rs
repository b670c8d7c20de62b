//! Reading fields of a JSON payload with errors that name the field's path.

use serde_json::Value;

use super::GithubParseError;

/// A JSON value together with the payload it came from and its path in it, e.g.
/// `[2].user.login` of `reviews`, so that every error names the field.
#[derive(Debug, Clone)]
pub(super) struct Field<'a> {
    input: &'static str,
    path: String,
    value: &'a Value,
}

impl<'a> Field<'a> {
    pub(super) fn root(input: &'static str, value: &'a Value) -> Self {
        Field {
            input,
            path: String::new(),
            value,
        }
    }

    pub(super) fn error(&self, problem: impl Into<String>) -> GithubParseError {
        GithubParseError::Field {
            input: self.input,
            field: if self.path.is_empty() {
                "(top level)".to_owned()
            } else {
                self.path.clone()
            },
            problem: problem.into(),
        }
    }

    fn child(&self, key: &str, value: &'a Value) -> Field<'a> {
        let path = if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        };
        Field {
            input: self.input,
            path,
            value,
        }
    }

    /// A member that may be absent or null.
    pub(super) fn get(&self, key: &str) -> Result<Option<Field<'a>>, GithubParseError> {
        let object = self
            .value
            .as_object()
            .ok_or_else(|| self.error("is not an object"))?;
        Ok(match object.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => Some(self.child(key, value)),
        })
    }

    /// A member that must be present and not null.
    pub(super) fn field(&self, key: &str) -> Result<Field<'a>, GithubParseError> {
        self.get(key)?
            .ok_or_else(|| self.child(key, self.value).error("is missing"))
    }

    /// The elements of an array.
    pub(super) fn elements(&self) -> Result<Vec<Field<'a>>, GithubParseError> {
        let items = self
            .value
            .as_array()
            .ok_or_else(|| self.error("is not an array"))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Field {
                input: self.input,
                path: format!("{}[{i}]", self.path),
                value,
            })
            .collect())
    }

    pub(super) fn is_array(&self) -> bool {
        self.value.is_array()
    }

    pub(super) fn str(&self) -> Result<&'a str, GithubParseError> {
        self.value
            .as_str()
            .ok_or_else(|| self.error("is not a string"))
    }

    pub(super) fn u64(&self) -> Result<u64, GithubParseError> {
        self.value
            .as_u64()
            .ok_or_else(|| self.error("is not a non-negative integer"))
    }

    /// A commit id: 40 hex digits (SHA-1) or 64 (SHA-256), returned in lower case.
    pub(super) fn sha(&self) -> Result<String, GithubParseError> {
        let text = self.str()?;
        let ok =
            (text.len() == 40 || text.len() == 64) && text.bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(text.to_ascii_lowercase())
        } else {
            Err(self.error(format!(
                "is not a commit SHA (40 or 64 hex digits): {text:?}"
            )))
        }
    }
}
