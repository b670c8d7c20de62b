//! `Co-authored-by:` trailers of a commit message.

use biv_core::Identity;

use super::git_identity;

/// The co-authors named in a commit message's `Co-authored-by: Name <email>` lines (key in any
/// case), by e-mail, in order of first appearance. A line without an `<email>` is skipped.
///
/// Every such line counts, not only those in the final trailer block: for excluding
/// contributors from review, naming too many is the safe side.
///
/// ```
/// use biv_integrity::review::github::co_authors;
/// let people = co_authors("Fix dosage rounding\n\nCo-authored-by: Carol <carol@example.org>\n\
///     co-authored-by: Dan <1234+dan@users.noreply.github.com>\n");
/// assert_eq!(people.len(), 2);
/// assert_eq!(people[0].email.as_deref(), Some("carol@example.org"));
/// assert_eq!(people[1].login.as_deref(), Some("dan"));
/// ```
pub fn co_authors(message: &str) -> Vec<Identity> {
    let mut found: Vec<Identity> = Vec::new();
    for line in message.lines() {
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("co-authored-by") {
            continue;
        }
        let Some((_, rest)) = value.rsplit_once('<') else {
            continue;
        };
        let Some((email, _)) = rest.split_once('>') else {
            continue;
        };
        let email = email.trim();
        if email.is_empty() {
            continue;
        }
        let identity = git_identity(email);
        if !found.iter().any(|f| f.same_as(&identity)) {
            found.push(identity);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::co_authors;

    #[test]
    fn trailers_are_found_in_any_case_and_deduplicated() {
        let msg = "Subject\n\nBody Co-authored-by: not a trailer\n\
                   CO-AUTHORED-BY: Eve <eve@example.org>\n\
                   Co-authored-by: Eve Again <EVE@example.org>\n\
                   Co-authored-by: Nobody\n\
                   Signed-off-by: Frank <frank@example.org>\n";
        let people = co_authors(msg);
        assert_eq!(people.len(), 1);
        assert_eq!(people[0].email.as_deref(), Some("eve@example.org"));
    }
}
