//! HTML rendering of the patient access report.

use std::fmt::Write;

use biv_core::{EventAction, Outcome};

use super::patient::PatientReport;

/// Escapes text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn action(a: EventAction) -> &'static str {
    match a {
        EventAction::Create => "aangemaakt",
        EventAction::Read => "ingezien",
        EventAction::Update => "gewijzigd",
        EventAction::Delete => "verwijderd",
        EventAction::Execute => "uitgevoerd",
        _ => "overig",
    }
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "geslaagd",
        Outcome::MinorFailure => "mislukt (herhaald)",
        Outcome::SeriousFailure => "geweigerd",
        Outcome::MajorFailure => "mislukt",
        _ => "onbekend",
    }
}

pub(super) fn render(r: &PatientReport) -> String {
    let mut h = String::with_capacity(4096 + r.rows.len() * 512);
    let period = match (&r.from, &r.to) {
        (Some(f), Some(t)) => format!("van {f} tot en met {t}"),
        (Some(f), None) => format!("vanaf {f}"),
        (None, Some(t)) => format!("tot en met {t}"),
        (None, None) => "alle vastgelegde toegang".to_owned(),
    };
    // Writing into a String cannot fail; the results are ignored on purpose.
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"nl\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Inzage in uw dossier — overzicht van toegang</title>\n\
         <style>body{{font-family:sans-serif;margin:2em;}}table{{border-collapse:collapse;width:100%;}}\
         th,td{{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top;}}\
         tr.noodtoegang{{background:#fde2e2;}}caption{{text-align:left;font-weight:bold;margin-bottom:.5em;}}</style>\n\
         </head>\n<body>\n<h1>Overzicht van toegang tot uw gegevens</h1>\n\
         <p>Dit overzicht (NEN 7513) toont wie uw gegevens heeft ingezien of gewijzigd, wanneer en waarom: {}.</p>\n\
         <p>Patiëntreferentie (pseudoniem, per sleutelversie): <code>{}</code><br>Logboek: {} vermeldingen, root <code>{}</code></p>\n",
        esc(&period),
        r.subjects
            .iter()
            .map(|s| esc(s))
            .collect::<Vec<_>>()
            .join("</code>, <code>"),
        r.log_size,
        esc(&r.log_root),
    );
    if r.rows.is_empty() {
        h.push_str("<p>In deze periode is geen toegang vastgelegd.</p>\n");
    } else {
        h.push_str(
            "<table>\n<caption>Toegang in chronologische volgorde</caption>\n<thead><tr><th scope=\"col\">Wanneer (UTC)</th>\
             <th scope=\"col\">Wie</th><th scope=\"col\">Rol</th><th scope=\"col\">Namens</th><th scope=\"col\">Organisatie / systeem</th>\
             <th scope=\"col\">Wat</th><th scope=\"col\">Welke gegevens</th><th scope=\"col\">Waarom</th>\
             <th scope=\"col\">Autorisatie / toestemming</th><th scope=\"col\">Noodtoegang</th><th scope=\"col\">Resultaat</th>\
             <th scope=\"col\">Log-index</th></tr></thead>\n<tbody>\n",
        );
        for row in &r.rows {
            let who = row.user_name.clone().unwrap_or_else(|| row.user_id.clone());
            let org = match &row.organisation {
                Some(o) => format!("{o} / {}", row.system),
                None => row.system.clone(),
            };
            let authz = [
                row.authorisation_protocol.as_deref(),
                row.consent_profile.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            let _ = writeln!(
                h,
                "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if row.break_glass {
                    " class=\"noodtoegang\""
                } else {
                    ""
                },
                esc(&row.time.to_string()),
                esc(&who),
                esc(row.role.as_deref().unwrap_or("")),
                esc(row.on_behalf_of.as_deref().unwrap_or("")),
                esc(&org),
                action(row.action),
                esc(&row.action_name),
                esc(&row.data.join(", ")),
                esc(row.purpose.as_deref().unwrap_or("")),
                esc(&authz),
                if row.break_glass {
                    "Noodtoegang: ja"
                } else {
                    "nee"
                },
                outcome(row.outcome),
                row.log_index,
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("<p>Elke regel is te controleren met een bewijs van opname (inclusion proof) in het logboek.</p>\n</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }
}
