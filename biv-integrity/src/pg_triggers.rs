//! The check both PostgreSQL stores (audit log, gate state) run on connect: the triggers that
//! make their tables append-only must exist and fire.

use tokio_postgres::Client;

/// What is wrong with the protecting `triggers` on `tables`, if anything: the first one that is
/// missing or disabled (a table owner or superuser may have dropped or switched one off).
///
/// # Errors
/// The database error when the catalogue cannot be read.
pub(crate) async fn trigger_problem(
    client: &Client,
    tables: &[&str],
    triggers: &[&str],
) -> Result<Option<String>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT t.tgname::text, t.tgenabled::text FROM pg_trigger t
             JOIN pg_class c ON c.oid = t.tgrelid
             WHERE c.relname = ANY($1) AND NOT t.tgisinternal",
            &[&tables],
        )
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        found.push((row.try_get::<_, String>(0)?, row.try_get::<_, String>(1)?));
    }
    for name in triggers {
        match found.iter().find(|(n, _)| n == name) {
            None => return Ok(Some(format!("trigger {name} is missing"))),
            // 'O' fires in normal sessions, 'A' always; 'D' is disabled, 'R' replica-only.
            Some((_, enabled)) if !matches!(enabled.as_str(), "O" | "A") => {
                return Ok(Some(format!("trigger {name} is disabled")));
            }
            Some(_) => {}
        }
    }
    Ok(None)
}
