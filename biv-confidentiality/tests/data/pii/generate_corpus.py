#!/usr/bin/env python3
"""Generates the labelled PII corpus for biv-confidentiality's precision/recall test.

    python3 generate_corpus.py > corpus.jsonl

Deterministic (fixed seed): re-running gives the same file. Every person, address, account and
key in it is fictitious; BSNs and IBANs are generated here with their own checksum code (the
11-proof and ISO 7064 mod 97-10), independent of the Rust implementation under test.

One JSON object per line:

    {"id": "...", "lang": "nl"|"en", "source": "clinical_note"|"log"|"json"|"stack_trace"|"message",
     "text": "...",
     "spans":  [{"type": "bsn", "start": 10, "end": 19}, ...],   # what a redactor must find
     "decoys": [{"kind": "bsn_invalid_checksum", "start": 3, "end": 12}, ...]}

Offsets are UTF-8 byte offsets into `text`, end exclusive. `type` uses the names of
`biv pii scan`. Decoys are numbers shaped like a BSN or IBAN that fail the checksum: they must
never be reported as BSN or IBAN. Everything else in the text is not personal data in the sense
of the nine types (ordinary numbers, dates that are not a date of birth, ids, hashes, ...).

Labelling rules (also in docs/formats/pii-findings.md):
- bsn, iban, phone: the number as written, separators and a leading `+`/`(0)`/parentheses included.
- email: the address only (no `mailto:`, no angle brackets); in URL-encoded text `%40` stands
  for the `@` and is part of the span.
- date_of_birth: the date only, when a word such as "geboortedatum", "geb.", "geboren", "DOB",
  "born", "date of birth" says it is one; other dates are not labelled.
- postcode: the Dutch postcode, plus the house number when that directly follows it.
- agb: the 8-digit AGB code, only where the text says it is an AGB code.
- record_number: patient/record numbers; bare digits only when a word such as "patiëntnummer"
  or "MRN" names them, and `ZP-` followed by 7 digits (the corpus hospital's own format,
  configured in config.json).
- secret: the secret value of a `password=`/`token=`-style pair or an `Authorization` header,
  the token after "Bearer", and whole PEM private key blocks (BEGIN and END lines included).
"""

import base64
import json
import random
import re
import sys

RNG = random.Random(20261126)


# --- checksums -------------------------------------------------------------------------------

def bsn_checksum_ok(digits):
    if len(digits) != 9 or digits == "000000000":
        return False
    weights = [9, 8, 7, 6, 5, 4, 3, 2, -1]
    return sum(w * int(d) for w, d in zip(weights, digits)) % 11 == 0


def make_bsn(leading_zero=False, test_range=False):
    while True:
        if test_range:
            head = "9999" + "".join(RNG.choice("0123456789") for _ in range(4))
        elif leading_zero:
            head = "0" + "".join(RNG.choice("0123456789") for _ in range(7))
        else:
            head = RNG.choice("123456789") + "".join(RNG.choice("0123456789") for _ in range(7))
        total = sum(w * int(d) for w, d in zip([9, 8, 7, 6, 5, 4, 3, 2], head))
        last = total % 11
        if last == 10:
            continue
        bsn = head + str(last)
        assert bsn_checksum_ok(bsn)
        if bsn != "000000000":
            return bsn


def make_bad_bsn():
    while True:
        good = make_bsn()
        pos = RNG.randrange(9)
        digit = RNG.choice([d for d in "0123456789" if d != good[pos]])
        if pos == 0 and digit == "0":
            continue
        bad = good[:pos] + digit + good[pos + 1:]
        if not bsn_checksum_ok(bad):
            return bad


def iban_mod97(s):
    value = "".join(str(int(c, 36)) for c in s)
    return int(value) % 97


def iban_ok(iban):
    return iban_mod97(iban[4:] + iban[:4]) == 1


# BBAN layouts of a few registry countries: n = digits, a = upper-case letters, c = alphanumeric.
BBAN = {
    "NL": [("bank", 4), ("n", 10)],
    "BE": [("n", 12)],
    "DE": [("n", 18)],
    "FR": [("n", 10), ("c", 11), ("n", 2)],
    "GB": [("a", 4), ("n", 14)],
    "ES": [("n", 20)],
    "IT": [("a", 1), ("n", 10), ("c", 12)],
    "LU": [("n", 3), ("c", 13)],
    "AT": [("n", 16)],
    "CH": [("n", 5), ("c", 12)],
    "NO": [("n", 11)],
    "MT": [("a", 4), ("n", 5), ("c", 18)],
    "PL": [("n", 24)],
    "IE": [("a", 4), ("n", 14)],
    "DK": [("n", 14)],
    "PT": [("n", 21)],
    "SE": [("n", 20)],
    "LC": [("a", 4), ("c", 24)],
    "RU": [("n", 14), ("c", 15)],
    "SA": [("n", 2), ("c", 18)],
}
NL_BANKS = ["ABNA", "RABO", "INGB", "TRIO", "SNSB", "ASNB", "KNAB", "BUNQ", "RBRB", "FVLB"]
ALNUM_UP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def make_iban(country="NL"):
    parts = []
    for kind, n in BBAN[country]:
        if kind == "bank":
            parts.append(RNG.choice(NL_BANKS))
        elif kind == "n":
            parts.append("".join(RNG.choice("0123456789") for _ in range(n)))
        elif kind == "a":
            parts.append("".join(RNG.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n)))
        else:
            parts.append("".join(RNG.choice(ALNUM_UP) for _ in range(n)))
    bban = "".join(parts)
    check = 98 - iban_mod97(bban + country + "00")
    iban = f"{country}{check:02d}{bban}"
    assert iban_ok(iban)
    return iban


def make_bad_iban(country="NL"):
    good = make_iban(country)
    digit_positions = [i for i, c in enumerate(good) if c.isdigit() and i >= 2]
    pos = RNG.choice(digit_positions)
    digit = RNG.choice([d for d in "0123456789" if d != good[pos]])
    bad = good[:pos] + digit + good[pos + 1:]
    assert not iban_ok(bad)
    return bad


def spaced(iban):
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))


# --- fictitious people and places ----------------------------------------------------------

FIRST_NL = ["Jan", "Sanne", "Pieter", "Fatima", "Daan", "Emma", "Mohamed", "Lotte", "Bram", "Noor",
            "Joris", "Ayşe", "Kees", "Marloes", "Thijs", "Femke", "Youssef", "Anouk", "Wouter", "Inge",
            "Sem", "Zoë", "Henk", "Priya", "Ruben", "Mees", "Chloë", "Gerrit", "Lieke", "Tim"]
LAST_NL = ["Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
           "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker",
           "Brouwer", "de Wit", "Dijkstra", "Smits", "el Amrani", "Yılmaz", "Kramer", "van Dijk",
           "Postma", "Koster", "Prins", "Huisman", "Peeters", "van der Linden"]
FIRST_EN = ["John", "Mary", "Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Noah", "Sophie",
            "Jack", "Grace", "Samuel", "Lily", "Ethan", "Chloe", "Arjun", "Mia", "Lucas", "Ella"]
LAST_EN = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
           "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
           "Hall", "Wood", "Patel", "O'Brien"]
STREETS = ["Kerkstraat", "Dorpsstraat", "Molenweg", "Stationsplein", "Julianalaan", "Beukenlaan",
           "Prinsengracht", "Schoolstraat", "Hoofdweg", "Lindenlaan", "Marktplein", "Oranjestraat",
           "Wilhelminapark", "Eikenlaan", "Havenkade", "Burgemeester de Withstraat"]
CITIES = ["Amsterdam", "Rotterdam", "Utrecht", "Eindhoven", "Groningen", "Zwolle", "Leiden",
          "Nijmegen", "Haarlem", "Tilburg", "Almere", "Breda", "Apeldoorn", "Enschede", "Delft",
          "'s-Hertogenbosch", "Den Haag", "Maastricht"]
DOMAINS = ["example.nl", "voorbeeld.nl", "example.com", "mail.example.org", "zorgmail.example",
           "ziekenhuis-zuiderpark.example", "huisarts-noord.example.nl", "test.example.co.uk"]
MONTHS_NL = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
             "september", "oktober", "november", "december"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]
MONTHS_EN_SHORT = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def first_nl():
    return RNG.choice(FIRST_NL)


def last_nl():
    return RNG.choice(LAST_NL)


def name_nl():
    return f"{first_nl()} {last_nl()}"


def name_en():
    return f"{RNG.choice(FIRST_EN)} {RNG.choice(LAST_EN)}"


def doctor_nl():
    return f"dr. {RNG.choice('ABCDEFGHJKLMNPRSTVW')}. {last_nl()}"


def ascii_fold(s):
    table = str.maketrans("ëéèïöüçşıÿ", "eeeioucsiy")
    return s.translate(table)


def email_for(first, last):
    local_first = ascii_fold(first.lower())
    local_last = ascii_fold(last.lower().replace(" ", "").replace("'", ""))
    style = RNG.randrange(6)
    if style == 0:
        local = f"{local_first}.{local_last}"
    elif style == 1:
        local = f"{local_first[0]}.{local_last}"
    elif style == 2:
        local = f"{local_first}{local_last}{RNG.randrange(1, 99)}"
    elif style == 3:
        local = f"{local_first}_{local_last}"
    elif style == 4:
        local = f"{local_first}.{local_last}+{RNG.choice(['afspraak', 'epd', 'lab', 'news'])}"
    else:
        local = f"{local_last}-{local_first[0]}"
    return f"{local}@{RNG.choice(DOMAINS)}"


def email():
    return email_for(first_nl(), last_nl())


def email_en():
    return email_for(RNG.choice(FIRST_EN), RNG.choice(LAST_EN))


def phone_nl():
    sub = RNG.randrange(8)
    if sub == 0:
        d = "".join(RNG.choice("0123456789") for _ in range(8))
        return "06" + d
    if sub == 1:
        d = "".join(RNG.choice("0123456789") for _ in range(8))
        return f"06-{d}"
    if sub == 2:
        d = "".join(RNG.choice("0123456789") for _ in range(8))
        return f"06 {d[:4]} {d[4:]}"
    if sub == 3:
        d = "".join(RNG.choice("0123456789") for _ in range(8))
        return f"06 {d[:2]} {d[2:4]} {d[4:6]} {d[6:]}"
    if sub == 4:
        area = RNG.choice(["020", "010", "030", "070", "040", "050", "024", "071"])
        d = "".join(RNG.choice("0123456789") for _ in range(7))
        return f"{area}-{d}"
    if sub == 5:
        area = RNG.choice(["020", "010", "030", "070"])
        d = "".join(RNG.choice("0123456789") for _ in range(7))
        return f"{area} {d[:3]} {d[3:]}"
    if sub == 6:
        area = RNG.choice(["0492", "0341", "0575", "0223", "0566"])
        d = "".join(RNG.choice("0123456789") for _ in range(6))
        return f"{area}-{d}"
    area = RNG.choice(["030", "020", "058"])
    d = "".join(RNG.choice("0123456789") for _ in range(7))
    return f"({area}) {d[:3]} {d[3:5]} {d[5:]}"


def phone_intl():
    sub = RNG.randrange(9)
    d8 = "".join(RNG.choice("0123456789") for _ in range(8))
    if sub == 0:
        return f"+316{d8}"
    if sub == 1:
        return f"+31 6 {d8}"
    if sub == 2:
        return f"+31 6 {d8[:4]} {d8[4:]}"
    if sub == 3:
        return f"0031 6 {d8}"
    if sub == 4:
        d7 = d8[:7]
        return f"+31 (0)20 {d7[:3]} {d7[3:]}"
    if sub == 5:
        return f"+44 20 7946 0{RNG.randrange(100, 999)}"
    if sub == 6:
        return f"+1 202 555 0{RNG.randrange(100, 199)}"
    if sub == 7:
        return f"+49 30 {d8[:7]}"
    return f"+32 4{d8[:2]} {d8[2:4]} {d8[4:6]} {d8[6:8]}"


def phone_compact_e164():
    d8 = "".join(RNG.choice("0123456789") for _ in range(8))
    return RNG.choice([f"+316{d8}", f"+3120{d8[:7]}", f"+447700{d8[:6]}", f"+4915{d8}"])


def dob_parts():
    year = RNG.randrange(1925, 2021)
    month = RNG.randrange(1, 13)
    day = RNG.randrange(1, 29)
    return year, month, day


def dob_dmy():
    y, m, d = dob_parts()
    sep = RNG.choice(["-", "-", "-", "/", "."])
    if RNG.random() < 0.3:
        return f"{d}{sep}{m}{sep}{y}"
    return f"{d:02d}{sep}{m:02d}{sep}{y}"


def dob_iso():
    y, m, d = dob_parts()
    return f"{y}-{m:02d}-{d:02d}"


def dob_text_nl():
    y, m, d = dob_parts()
    return f"{d} {MONTHS_NL[m - 1]} {y}"


def dob_text_en():
    y, m, d = dob_parts()
    style = RNG.randrange(3)
    if style == 0:
        return f"{d} {MONTHS_EN[m - 1]} {y}"
    if style == 1:
        return f"{MONTHS_EN[m - 1]} {d}, {y}"
    return f"{d:02d} {MONTHS_EN_SHORT[m - 1]} {y}"


def dob_us():
    y, m, d = dob_parts()
    return f"{m:02d}/{d:02d}/{y}"


def visit_date():
    y = RNG.randrange(2019, 2026)
    m = RNG.randrange(1, 13)
    d = RNG.randrange(1, 29)
    return RNG.choice([f"{d:02d}-{m:02d}-{y}", f"{y}-{m:02d}-{d:02d}", f"{d} {MONTHS_NL[m - 1]} {y}"])


def postcode(compact=False):
    digits = str(RNG.randrange(1000, 10000))
    letters = RNG.choice("ABCDEGHJKLMNPRTVWXZ") + RNG.choice("ABCDEGHJKLMNPRTVWXZ")
    if compact or RNG.random() < 0.25:
        return f"{digits}{letters}"
    return f"{digits} {letters}"


def house_number():
    n = str(RNG.randrange(1, 250))
    suffix = RNG.choice(["", "", "", "", "a", "b", "-2", "-A", " bis"]) if RNG.random() < 0.4 else ""
    return n + suffix


def house_number_compact():
    n = str(RNG.randrange(1, 250))
    return n + (RNG.choice(["a", "b", "-2", "-A", "A", "-1"]) if RNG.random() < 0.3 else "")


def agb():
    kind = RNG.choice(["01", "03", "02", "04", "05", "08", "22", "87"])
    return kind + "".join(RNG.choice("0123456789") for _ in range(6))


def record_digits():
    n = RNG.choice([6, 7, 7, 8, 8, 9, 10])
    first = RNG.choice("123456789") if RNG.random() < 0.8 else "0"
    return first + "".join(RNG.choice("0123456789") for _ in range(n - 1))


def record_zp():
    return "ZP-" + "".join(RNG.choice("0123456789") for _ in range(7))


def order_number():
    return str(RNG.randrange(100000000, 999999999))


def hex_id(n):
    return "".join(RNG.choice("0123456789abcdef") for _ in range(n))


def uuid():
    h = hex_id(32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def ip():
    return f"10.{RNG.randrange(0, 255)}.{RNG.randrange(0, 255)}.{RNG.randrange(1, 255)}"


def timestamp():
    return (f"2024-{RNG.randrange(1, 13):02d}-{RNG.randrange(1, 29):02d}T"
            f"{RNG.randrange(0, 24):02d}:{RNG.randrange(0, 60):02d}:{RNG.randrange(0, 60):02d}."
            f"{RNG.randrange(0, 1000):03d}Z")


def password():
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#%*-_"
    n = RNG.randrange(8, 20)
    return "".join(RNG.choice(alphabet) for _ in range(n))


def b64url(n_bytes):
    raw = bytes(RNG.randrange(256) for _ in range(n_bytes))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt():
    header = base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(
        json.dumps({"sub": f"u-{RNG.randrange(1000, 9999)}", "iat": 1710000000 + RNG.randrange(10**6),
                    "scope": "epd.read"}).encode()).decode().rstrip("=")
    return f"{header}.{payload}.{b64url(64)}"


def api_token():
    return RNG.choice([
        "ghp_" + "".join(RNG.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(36)),
        "sk_live_" + b64url(24),
        hex_id(40),
        b64url(32),
    ])


def pem_block(kind, escaped=False):
    label = {"rsa": "RSA PRIVATE KEY", "ec": "EC PRIVATE KEY", "pkcs8": "PRIVATE KEY",
             "openssh": "OPENSSH PRIVATE KEY", "enc": "ENCRYPTED PRIVATE KEY"}[kind]
    n = {"rsa": 600, "ec": 120, "pkcs8": 400, "openssh": 300, "enc": 500}[kind]
    body = base64.b64encode(bytes(RNG.randrange(256) for _ in range(n))).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    nl = "\\n" if escaped else "\n"
    return f"-----BEGIN {label}-----{nl}" + nl.join(lines) + f"{nl}-----END {label}-----"


def cert_block(escaped=False):
    body = base64.b64encode(bytes(RNG.randrange(256) for _ in range(300))).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    nl = "\\n" if escaped else "\n"
    label = RNG.choice(["CERTIFICATE", "PUBLIC KEY"])
    return f"-----BEGIN {label}-----{nl}" + nl.join(lines) + f"{nl}-----END {label}-----"


def phone_odd():
    d8 = "".join(RNG.choice("0123456789") for _ in range(8))
    return RNG.choice([
        f"06 - {d8[:2]} {d8[2:4]} {d8[4:6]} {d8[6:]}",
        f"+31(0)6-{d8}",
        f"06.{d8[:2]}.{d8[2:4]}.{d8[4:6]}.{d8[6:]}",
        f"020 - {d8[:3]} {d8[3:5]} {d8[5:7]}",
        f"+31 6-{d8[:4]}{d8[4:]}",
    ])


def nine_digits_any():
    return str(RNG.randrange(100000000, 999999999))


def amount():
    return f"{RNG.randrange(5, 2500)},{RNG.randrange(0, 100):02d}"


# --- placeholders: each returns a list of (text, label) segments ----------------------------
# label None = plain text; "x" = a span of type x; "!x" = a decoy of kind x.

def L(kind, value):
    return [(value, kind)]


PLACEHOLDERS = {
    # BSN
    "bsn": lambda: L("bsn", make_bsn()),
    "bsn_test": lambda: L("bsn", make_bsn(test_range=True)),
    "bsn_dotted": lambda: L("bsn", (lambda b: f"{b[:4]}.{b[4:6]}.{b[6:]}")(make_bsn())),
    "bsn_spaced": lambda: L("bsn", (lambda b: f"{b[:3]} {b[3:6]} {b[6:]}")(make_bsn())),
    "bsn_dashed": lambda: L("bsn", (lambda b: f"{b[:3]}-{b[3:6]}-{b[6:]}")(make_bsn())),
    "bsn8": lambda: L("bsn", make_bsn(leading_zero=True)[1:]),
    "bsn_bad": lambda: L("!bsn_invalid_checksum", make_bad_bsn()),
    "bsn_bad_dotted": lambda: L("!bsn_invalid_checksum", (lambda b: f"{b[:4]}.{b[4:6]}.{b[6:]}")(make_bad_bsn())),
    # IBAN
    "iban": lambda: L("iban", make_iban("NL")),
    "iban_spaced": lambda: L("iban", spaced(make_iban("NL"))),
    "iban_foreign": lambda: L("iban", make_iban(RNG.choice([c for c in BBAN if c != "NL"]))),
    "iban_foreign_spaced": lambda: L("iban", spaced(make_iban(RNG.choice([c for c in BBAN if c != "NL"])))),
    "iban_bad": lambda: L("!iban_invalid_checksum", make_bad_iban(RNG.choice(["NL", "NL", "BE", "DE"]))),
    "iban_bad_spaced": lambda: L("!iban_invalid_checksum", spaced(make_bad_iban("NL"))),
    # e-mail
    "email": lambda: L("email", email()),
    "email_en": lambda: L("email", email_en()),
    "email_noreply": lambda: L("email", RNG.choice(["noreply@example.nl", "no-reply@zorgmail.example"])),
    "email_urlenc": lambda: L("email", email().replace("@", "%40").replace("+", "%2B")),
    # phone
    "phone": lambda: L("phone", phone_nl()),
    "phone_intl": lambda: L("phone", phone_intl()),
    "phone_e164": lambda: L("phone", phone_compact_e164()),
    # dates of birth
    "dob_dmy": lambda: L("date_of_birth", dob_dmy()),
    "dob_iso": lambda: L("date_of_birth", dob_iso()),
    "dob_nl": lambda: L("date_of_birth", dob_text_nl()),
    "dob_en": lambda: L("date_of_birth", dob_text_en()),
    "dob_us": lambda: L("date_of_birth", dob_us()),
    "dob_compact": lambda: L("date_of_birth", (lambda p: f"{p[0]}{p[1]:02d}{p[2]:02d}")(dob_parts())),
    # postcode (+ house number)
    "postcode": lambda: L("postcode", postcode()),
    "postcode_compact": lambda: L("postcode", postcode(compact=True)),
    "postcode_hn": lambda: L("postcode", f"{postcode()} {house_number_compact()}"),
    "postcode_hn_compact": lambda: L("postcode", f"{postcode(compact=True)}{RNG.choice(['', '-', ' '])}{RNG.randrange(1, 300)}"),
    # AGB, record numbers
    "agb": lambda: L("agb", agb()),
    "record": lambda: L("record_number", record_digits()),
    "record_zp": lambda: L("record_number", record_zp()),
    # secrets
    "password": lambda: L("secret", password()),
    "jwt": lambda: L("secret", jwt()),
    "api_token": lambda: L("secret", api_token()),
    "pem": lambda: L("secret", pem_block(RNG.choice(["rsa", "ec", "pkcs8", "openssh", "enc"]))),
    "pem_escaped": lambda: L("secret", pem_block(RNG.choice(["rsa", "ec", "pkcs8"]), escaped=True)),
    "basic_auth": lambda: L("secret", base64.b64encode(f"{first_nl().lower()}:{password()}".encode()).decode()),
    "bsn_url": lambda: L("bsn", make_bsn()),
    "phone_odd": lambda: L("phone", phone_odd()),
    "email_upper": lambda: L("email", email().upper()),
    "postcode_lower": lambda: L("postcode", postcode(compact=True).lower()),
    "rsin": lambda: [(make_bsn(), None)],
    "kvk": lambda: [(str(RNG.randrange(10000000, 99999999)), None)],
    "old_account": lambda: [(nine_digits_any(), None)],
    "nine": lambda: [(nine_digits_any(), None)],
    "card": lambda: [(f"4{RNG.randrange(100, 999)} {RNG.randrange(1000, 9999)} {RNG.randrange(1000, 9999)} {RNG.randrange(1000, 9999)}", None)],
    "money_big": lambda: [(f"{RNG.randrange(1, 999)}.{RNG.randrange(100, 999)}.{RNG.randrange(100, 999)}", None)],
    "b64_40": lambda: L("secret", base64.b64encode(bytes(RNG.randrange(256) for _ in range(30))).decode()),
    "app_key": lambda: L("secret", "base64:" + base64.b64encode(bytes(RNG.randrange(256) for _ in range(32))).decode()),
    "last": lambda: [(last_nl(), None)],
    # plain values (not personal data of the nine types)
    "name": lambda: [(name_nl(), None)],
    "name_en": lambda: [(name_en(), None)],
    "first": lambda: [(first_nl(), None)],
    "doctor": lambda: [(doctor_nl(), None)],
    "street": lambda: [(RNG.choice(STREETS), None)],
    "hn": lambda: [(house_number(), None)],
    "city": lambda: [(RNG.choice(CITIES), None)],
    "visit_date": lambda: [(visit_date(), None)],
    "order_no": lambda: [(order_number(), None)],
    "uuid": lambda: [(uuid(), None)],
    "hex32": lambda: [(hex_id(32), None)],
    "hex16": lambda: [(hex_id(16), None)],
    "sha": lambda: [(hex_id(40), None)],
    "ip": lambda: [(ip(), None)],
    "ts": lambda: [(timestamp(), None)],
    "ms": lambda: [(str(RNG.randrange(1, 5000)), None)],
    "bytes": lambda: [(str(RNG.randrange(100, 99999)), None)],
    "amount": lambda: [(amount(), None)],
    "pid": lambda: [(str(RNG.randrange(1000, 65535)), None)],
    "line": lambda: [(str(RNG.randrange(10, 900)), None)],
    "epoch": lambda: [(str(RNG.randrange(1600000000, 1800000000)), None)],
    "cert": lambda: [(cert_block(), None)],
    "cert_escaped": lambda: [(cert_block(escaped=True), None)],
    "userid": lambda: [(f"u-{RNG.randrange(1000, 9999)}", None)],
    "int9": lambda: [(str(RNG.randrange(100000000, 999999999)), None)],
    "int10": lambda: [(str(RNG.randrange(1000000000, 9999999999)), None)],
    "version": lambda: [(f"{RNG.randrange(1, 12)}.{RNG.randrange(0, 30)}.{RNG.randrange(0, 50)}", None)],
}


# --- templates -------------------------------------------------------------------------------
# (id prefix, lang, source, count, template). Placeholders are «name».

TEMPLATES = [
    # Dutch clinical notes
    ("nl-note-seh", "nl", "clinical_note", 14,
     "Patiënt «name», geboren op «dob_nl», BSN «bsn», meldt zich op de SEH met thoracale pijn sinds "
     "vanochtend. RR 145/90 mmHg, pols 88/min, saturatie 97%. ECG: sinusritme, geen ST-elevatie."),
    ("nl-note-verwijzing", "nl", "clinical_note", 12,
     "Verwijzing van huisarts «doctor» (AGB-code «agb»). Betreft: «name», geb. «dob_dmy», "
     "«street» «hn», «postcode» «city». Graag beoordeling i.v.m. recidiverende pneumonie."),
    ("nl-note-contact", "nl", "clinical_note", 12,
     "Telefonisch contact gehad met dochter («phone») over het ontslag op «visit_date». Zij vraagt "
     "de ontslagbrief te mailen naar «email». Afgesproken dat de wijkverpleging dagelijks komt."),
    ("nl-note-admin", "nl", "clinical_note", 12,
     "Administratie — BSN: «bsn_dotted»; geboortedatum: «dob_dmy»; adres: «street» «hn», «postcode» «city»; "
     "tel.: «phone»; e-mail: «email»."),
    ("nl-note-wid", "nl", "clinical_note", 10,
     "Identiteit gecontroleerd (paspoort). Burgerservicenummer «bsn» komt overeen met de gegevens "
     "in het EPD. Patiëntnummer «record»."),
    ("nl-note-nota", "nl", "clinical_note", 10,
     "Eigen bijdrage € «amount» graag overmaken op «iban_spaced» t.n.v. Stichting Zuiderpark "
     "Ziekenhuis o.v.v. «record_zp»."),
    ("nl-note-lab", "nl", "clinical_note", 12,
     "Lab «visit_date»: Hb 8,1 mmol/L, CRP 14 mg/L, eGFR 58 ml/min/1,73m², kalium 4,2. Beleid: "
     "controle over 6 weken bij de poli. Pat.nr. «record»."),
    ("nl-note-bsn-fout", "nl", "clinical_note", 12,
     "Let op: het BSN «bsn_bad» op de verwijsbrief klopt niet (elfproef faalt). Navragen bij de "
     "huisarts; het juiste BSN is volgens de BRP «bsn»."),
    ("nl-note-medicatie", "nl", "clinical_note", 10,
     "Medicatie bij opname: metoprolol 2dd 50 mg, colecalciferol 800 IE 1dd, pantoprazol 40 mg. "
     "Allergie: penicilline. Opname «visit_date», verwacht ontslag over 3 dagen."),
    ("nl-note-dob-geb", "nl", "clinical_note", 10,
     "Mevrouw «name» (geb. «dob_dmy») komt voor controle na de heupoperatie van «visit_date». "
     "Wond rustig, mobiliseert met rollator."),
    ("nl-note-postcode-hn", "nl", "clinical_note", 12,
     "Thuiszorg aangevraagd voor postcode/huisnummer «postcode_hn». Contactpersoon: zoon, «phone»."),
    ("nl-note-agb-specialist", "nl", "clinical_note", 8,
     "Behandelaar: «doctor», internist (AGB «agb»). Ontslagbrief verstuurd via ZorgMail aan de "
     "huisarts."),
    ("nl-note-sofi", "nl", "clinical_note", 8,
     "Oude dossiers vermelden nog het sofinummer «bsn_spaced»; dit is gelijk aan het huidige BSN."),
    ("nl-note-mobiel", "nl", "clinical_note", 10,
     "Patiënt is bereikbaar op mobiel «phone_intl» of via e-mail «email». Voorkeur voor sms."),
    ("nl-note-iban-fout", "nl", "clinical_note", 8,
     "Terugbetaling mislukt: rekeningnummer «iban_bad» is ongeldig. Nieuw rekeningnummer "
     "opgegeven: «iban»."),
    ("nl-note-clean", "nl", "clinical_note", 14,
     "Anamnese: sinds 3 weken hoesten, koorts tot 38,9 °C, 2x per nacht zweten. Rookt 20 "
     "sigaretten per dag, 15 pakjaren. Controle over 2 weken; bloeddruk 120/80, pols 72."),
    ("nl-note-ok", "nl", "clinical_note", 8,
     "OK-verslag «visit_date»: laparoscopische cholecystectomie, duur 62 min, bloedverlies 50 ml. "
     "Operatiekamer 4, anesthesie ASA 2. Ordernummer apotheek «order_no»."),
    ("nl-note-dossier", "nl", "clinical_note", 8,
     "Dossiernummer «record» — «name», geboortedatum «dob_nl». Zie ook de brief van «visit_date»."),
    ("nl-note-bsn8", "nl", "clinical_note", 8,
     "In het oude systeem is het BSN zonder voorloopnul opgeslagen: «bsn8». Omgezet naar 9 cijfers."),
    # English clinical notes
    ("en-note-clinic", "en", "clinical_note", 12,
     "Patient «name_en» (DOB «dob_iso») was seen in the outpatient clinic today. BP 132/84, HR 76. "
     "Plan: repeat bloods in 4 weeks; contact «phone_intl» or «email_en»."),
    ("en-note-referral", "en", "clinical_note", 10,
     "Referral from «doctor» (AGB code «agb») regarding «name_en», born «dob_en». Presenting "
     "complaint: intermittent chest pain for 2 months."),
    ("en-note-dob", "en", "clinical_note", 10,
     "Date of birth: «dob_en». MRN «record». Allergies: none known. Weight 82 kg, height 1.81 m."),
    ("en-note-us", "en", "clinical_note", 8,
     "D.O.B.: «dob_us» — insurance verified, follow-up on «visit_date» at 10:30."),
    ("en-note-clean", "en", "clinical_note", 12,
     "Follow-up in 3 months. eGFR 62, HbA1c 48 mmol/mol, LDL 2.9. Continue metformin 500 mg twice "
     "daily; ramipril 5 mg once daily. Request took 35 ms."),
    ("en-note-bank", "en", "clinical_note", 8,
     "Refund of EUR «amount» to account «iban_foreign_spaced» was approved by the billing office."),
    ("en-note-dutch-patient", "en", "clinical_note", 8,
     "Dutch citizen service number (BSN) «bsn» verified; patient lives at «street» «hn», "
     "«postcode» «city»."),
    # Log lines
    ("log-nginx", "en", "log", 14,
     "«ip» - - [12/Mar/2024:14:02:11 +0100] \"GET /api/v2/patients/search?bsn=«bsn»&include=address "
     "HTTP/1.1\" 200 «bytes» \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" rt=0.0«ms»"),
    ("log-app-bsn", "en", "log", 12,
     "«ts» INFO  epd.patient.lookup bsn=«bsn» user=«userid» duration_ms=«ms» trace_id=«hex32»"),
    ("log-mail", "en", "log", 12,
     "«ts» WARN  [mail-worker-3] delivery failed to=<«email»> status=550 5.1.1 queue_id=«hex16»"),
    ("log-payment", "en", "log", 10,
     "level=error ts=«ts» msg=\"sepa mandate rejected\" iban=«iban» amount=«amount» "
     "order=«order_no» trace_id=«hex32»"),
    ("log-db", "en", "log", 10,
     "«ts» DEBUG db.pool connecting host=db.internal port=5432 dbname=epd user=epd_app "
     "password=«password» sslmode=require"),
    ("log-http-auth", "en", "log", 10,
     "«ts» TRACE http.client request POST https://api.example.nl/fhir/Patient headers={Authorization: "
     "Bearer «jwt», Accept: application/fhir+json}"),
    ("log-sms", "en", "log", 10,
     "«ts» INFO  sms.send to=«phone_e164» template=appointment_reminder id=«uuid» status=queued"),
    ("log-syslog", "en", "log", 10,
     "<134>1 «ts» epd-app-3 epd «pid» - - user «userid» changed phone number of patient «record_zp» to «phone»"),
    ("log-audit-export", "en", "log", 8,
     "«ts» AUDIT export requested by «email» for patient MRN «record» (reason: transfer)"),
    ("log-clean", "en", "log", 16,
     "«ts» INFO  http.server GET /health 200 «bytes»B in «ms»ms pid=«pid» version=«version» "
     "build=«sha» client=«ip»:«pid»"),
    ("log-clean-2", "en", "log", 12,
     "«ts» WARN  gc pause «ms»ms heap=2048 MB old_gen=1536 MB request_id=«uuid» epoch=«epoch»"),
    ("log-ids", "en", "log", 12,
     "«ts» INFO  order.created order_id=«int9» invoice=«int10» items=3 total=«amount» "
     "session=«hex32»"),
    ("log-token", "en", "log", 8,
     "«ts» DEBUG webhook.register url=https://hooks.example.nl/epd?token=«api_token»&retry=3"),
    ("log-basic", "en", "log", 6,
     "curl -sS -H 'Authorization: Basic «basic_auth»' https://«ip»:8443/api/v1/export"),
    ("log-reset", "en", "log", 8,
     "«ts» INFO  auth password reset requested for «email»; reset link valid for 30 minutes"),
    ("log-urlenc", "en", "log", 8,
     "«ip» - - \"GET /portal/login?email=«email_urlenc»&next=%2Fdossier HTTP/1.1\" 302 0"),
    ("log-bsn-invalid", "en", "log", 10,
     "«ts» WARN  intake.validate rejected bsn=«bsn_bad» reason=elfproef user=«userid»"),
    ("log-dob-lookup", "en", "log", 8,
     "«ts» INFO  patient.match dob=«dob_iso» postcode=«postcode_compact» candidates=2"),
    # JSON documents
    ("json-patient", "nl", "json", 14,
     "{\"patient\":{\"bsn\":\"«bsn»\",\"naam\":\"«name»\",\"geboortedatum\":\"«dob_iso»\",\"adres\":"
     "{\"straat\":\"«street»\",\"huisnummer\":\"«hn»\",\"postcode\":\"«postcode_compact»\",\"woonplaats\":"
     "\"«city»\"},\"telefoon\":\"«phone»\",\"email\":\"«email»\"}}"),
    ("json-payment", "en", "json", 10,
     "{\"event\":\"payment.received\",\"iban\":\"«iban»\",\"amount\":\"«amount»\",\"currency\":\"EUR\","
     "\"reference\":\"«order_no»\",\"received_at\":\"«ts»\"}"),
    ("json-ecs", "en", "json", 12,
     "{\"@timestamp\":\"«ts»\",\"log.level\":\"error\",\"message\":\"lookup failed for bsn «bsn»\","
     "\"service.name\":\"epd-api\",\"trace.id\":\"«hex32»\",\"event.duration\":«epoch»}"),
    ("json-config", "en", "json", 8,
     "{\"db\":{\"host\":\"db.internal\",\"port\":5432,\"user\":\"epd\",\"password\":\"«password»\"},"
     "\"mail\":{\"api_key\":\"«api_token»\",\"from\":\"«email_noreply»\"}}"),
    ("json-practitioner", "nl", "json", 8,
     "{\"resourceType\":\"Practitioner\",\"identifier\":[{\"system\":\"http://fhir.nl/fhir/NamingSystem/agb-z\","
     "\"value\":\"«agb»\"}],\"name\":[{\"text\":\"«doctor»\"}],\"telecom\":[{\"system\":\"phone\",\"value\":\"«phone»\"}]}"),
    ("json-fhir-patient", "nl", "json", 8,
     "{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"http://fhir.nl/fhir/NamingSystem/bsn\","
     "\"value\":\"«bsn»\"}],\"birthDate\":\"«dob_iso»\",\"telecom\":[{\"system\":\"email\",\"value\":\"«email»\"}]}"),
    ("json-bsn8", "nl", "json", 8,
     "{\"id\":«pid»,\"bsn\":«bsn8»,\"status\":\"active\",\"updated\":\"«ts»\"}"),
    ("json-token", "en", "json", 8,
     "{\"access_token\":\"«jwt»\",\"token_type\":\"Bearer\",\"expires_in\":3600,\"scope\":\"epd.read\"}"),
    ("json-tls", "en", "json", 6,
     "{\"tls\":{\"certificate\":\"«cert_escaped»\",\"private_key\":\"«pem_escaped»\"}}"),
    ("json-clean", "en", "json", 12,
     "{\"id\":\"«uuid»\",\"status\":200,\"duration_ms\":«ms»,\"items\":[1,2,3],\"version\":\"«version»\","
     "\"checksum\":\"«sha»\",\"count\":«bytes»}"),
    ("json-invalid-iban", "en", "json", 8,
     "{\"error\":\"invalid_iban\",\"field\":\"iban\",\"value\":\"«iban_bad»\",\"request_id\":\"«uuid»\"}"),
    ("json-foreign-iban", "en", "json", 8,
     "{\"beneficiary\":{\"name\":\"«name_en»\",\"iban\":\"«iban_foreign»\",\"bic\":\"ABNANL2A\"}}"),
    ("csv-export", "nl", "json", 8,
     "bsn;naam;geboortedatum;postcode;telefoon\n«bsn»;«name»;«dob_dmy»;«postcode_compact»;«phone»\n"),
    ("hl7-pid", "nl", "log", 6,
     "MSH|^~\\&|EPD|ZP|LAB|ZP|20240312140211||ADT^A04|«hex16»|P|2.5\r"
     "PID|1||«bsn»^^^NLMINBIZA^NNNLD||«name»||«dob_compact»|F|||«street» «hn»^^«city»^^«postcode_compact»^NL||«phone»"),
    # Stack traces
    ("trace-java", "en", "stack_trace", 10,
     "Exception in thread \"main\" java.lang.IllegalStateException: duplicate patient for BSN «bsn»\n"
     "\tat nl.example.epd.PatientRepository.insert(PatientRepository.java:«line»)\n"
     "\tat nl.example.epd.IntakeService.register(IntakeService.java:«line»)\n"
     "\tat java.base/java.lang.Thread.run(Thread.java:1583)"),
    ("trace-python", "en", "stack_trace", 10,
     "Traceback (most recent call last):\n  File \"/app/epd/mail.py\", line «line», in send\n"
     "    smtp.sendmail(sender, to, msg)\nsmtplib.SMTPRecipientsRefused: {'«email»': (550, b'5.1.1 user unknown')}"),
    ("trace-rust", "en", "stack_trace", 10,
     "thread 'tokio-runtime-worker' panicked at src/billing.rs:«line»:17:\ninvalid account «iban»: "
     "sepa mandate missing\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"),
    ("trace-php", "en", "stack_trace", 10,
     "PHP Fatal error:  Uncaught PDOException: SQLSTATE[23000]: Integrity constraint violation: 1062 "
     "Duplicate entry '«bsn»' for key 'patients.bsn' in /var/www/epd/src/Patient.php:«line»\n"
     "Stack trace:\n#0 /var/www/epd/src/Patient.php(«line»): PDOStatement->execute(Array)\n#1 {main}"),
    ("trace-go", "en", "stack_trace", 8,
     "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\n"
     "main.lookup(0xc000012345, 0x9)\n\t/src/epd/main.go:«line» +0x1d\nexit status 2"),
    ("trace-dotnet", "en", "stack_trace", 8,
     "System.FormatException: Phone number '«phone»' is not in E.164 format.\n"
     "   at Epd.Contacts.Normalize(String input) in /src/Contacts.cs:line «line»\n"
     "   at Epd.Api.PatientsController.Update(Int32 id) in /src/PatientsController.cs:line «line»"),
    ("trace-key", "en", "stack_trace", 6,
     "ssl.SSLError: [SSL] PEM lib (_ssl.c:3900) while loading key file:\n«pem»\n"
     "  File \"/app/tls.py\", line «line», in load"),
    # Messages (e-mail / chat)
    ("nl-msg-portal", "nl", "message", 10,
     "Beste «first», uw afspraak op «visit_date» om 10:30 is bevestigd. Vragen? Bel «phone» of mail "
     "«email». Met vriendelijke groet, polikliniek Cardiologie."),
    ("nl-msg-machtiging", "nl", "message", 8,
     "Machtiging: ik, «name», geboren «dob_dmy», BSN «bsn_dashed», machtig mijn zoon om namens mij "
     "mijn dossier in te zien. Rekening: «iban»."),
    ("en-msg-support", "en", "message", 8,
     "Hi, I can't log in to the portal. My email is «email_en» and my phone is «phone_intl». "
     "The error code was 0x80070005 at 14:32."),
    ("nl-msg-vertrouwelijk", "nl", "message", 6,
     "Het wachtwoord voor de gedeelde map is: wachtwoord=«password» (graag na gebruik wijzigen)."),
    ("nl-msg-test-bsn", "nl", "message", 8,
     "Voor de acceptatietest gebruiken we test-BSN «bsn_test» en IBAN «iban_foreign»."),
    ("nl-msg-address", "nl", "message", 10,
     "Nieuw adres per «visit_date»: «street» «hn», «postcode» «city». Postcode en huisnummer in het "
     "EPD: «postcode_hn_compact»."),
    ("nl-msg-clean", "nl", "message", 10,
     "Herinnering: teamoverleg dinsdag om 14:00 in kamer 2.14, agenda-punt 3 (roosters week 12-15). "
     "Versie 4.2.1 van het EPD gaat live op 1 april."),
    ("en-msg-clean", "en", "message", 10,
     "The upgrade to release «version» finished at 02:14 UTC; 1024 records migrated in 35 s, "
     "0 errors. Ticket «order_no» closed."),
    ("nl-msg-bad-both", "nl", "message", 8,
     "Controle formulier: BSN «bsn_bad_dotted» en rekening «iban_bad_spaced» zijn allebei "
     "ongeldig, formulier teruggestuurd."),
    ("nl-msg-password-empty", "nl", "message", 6,
     "Config check: password=${DB_PASSWORD} en token=<redacted> zijn placeholders; echte waarden staan "
     "in de vault."),
    # Harder material: forms and look-alikes that real text has.
    ("log-rest-path", "en", "log", 10,
     "«ip» - - [12/Mar/2024:09:15:02 +0100] \"GET /api/v1/patients/«bsn_url»/records?page=2 HTTP/1.1\" 200 «bytes»"),
    ("log-bsn-colon", "en", "log", 8,
     "«ts» ERROR intake failed BSN:«bsn» reason=duplicate user=«userid»"),
    ("nl-note-phone-odd", "nl", "clinical_note", 10,
     "Contactgegevens bijgewerkt: telefoon «phone_odd» (voorkeur), e-mail «email_upper»."),
    ("nl-note-rsin", "nl", "clinical_note", 8,
     "Declaratie naar zorgverzekeraar (RSIN «rsin», KvK «kvk») verstuurd op «visit_date»; "
     "factuurnummer «nine»."),
    ("log-numbers", "en", "log", 14,
     "«ts» DEBUG fs.stat inode «nine» size=«bytes» seq=«nine» offset=«nine» crc=«int10» "
     "duration_ns=«nine»"),
    ("nl-note-old-account", "nl", "clinical_note", 6,
     "Oud bankrekeningnummer «old_account» is vervallen; betalingen lopen via de nieuwe IBAN «iban»."),
    ("nl-note-child", "nl", "clinical_note", 6,
     "Partus: dochter geboren op «dob_dmy» om 03:12, gewicht 3240 g, Apgar 9/10."),
    ("nl-note-dob-unknown", "nl", "clinical_note", 6,
     "Geboortedatum onbekend bij aanmelding; opname «visit_date» via de SEH, gegevens volgen."),
    ("en-log-card", "en", "log", 6,
     "«ts» INFO billing charge ok card=«card» amount=«amount» ref=«hex16»"),
    ("nl-msg-amount", "nl", "message", 6,
     "Begroting 2025: totaal € «money_big»,00 waarvan 2.500.000 voor ICT; zie bijlage 3."),
    ("nl-note-postcode-lower", "nl", "clinical_note", 6,
     "Adreswijziging doorgegeven, nieuwe postcode «postcode_lower», huisnummer «hn»."),
    ("en-note-mixed", "en", "clinical_note", 10,
     "Seen with interpreter. Patient's daughter («email_en», «phone_intl») will bring the Dutch "
     "BSN («bsn_spaced») and insurance card. Next visit «visit_date»."),
    ("json-nested", "en", "json", 10,
     "{\"data\":{\"attributes\":{\"bsn\":\"«bsn»\",\"contact\":{\"mobile\":\"«phone_e164»\","
     "\"email\":\"«email»\"}},\"meta\":{\"request_id\":\"«uuid»\",\"took_ms\":«ms»}}}"),
    ("en-msg-cert", "en", "message", 6,
     "Public certificate for the partner endpoint (not secret):\n«cert»"),
]

# Held-out templates: written after the detectors, and measured once before any change made
# because of them (the numbers are in docs/performance.md and docs/formats/pii-findings.md).
HELD_OUT = [
    ("ho-nl-ontslagbrief", "nl", "clinical_note", 10,
     "Geachte collega,\n\nHierbij berichten wij u over uw patiënt dhr. «name» (geb. «dob_dmy», BSN «bsn»), "
     "die van «visit_date» tot «visit_date» was opgenomen op onze afdeling Longziekten."),
    ("ho-nl-soep", "nl", "clinical_note", 10,
     "S: pijn op de borst sinds 2 dagen. O: RR 150/95, pols 92, temp 37,8. E: angina pectoris? "
     "P: verwijzing cardiologie, tel. afspraak via «phone». Pt bereikbaar via «email»."),
    ("ho-en-triage", "en", "clinical_note", 10,
     "Triage note - pt «name_en», DOB: «dob_us», phone «phone_intl». Reports fall at home on "
     "«visit_date». GCS 15, no LOC."),
    ("ho-log-laravel", "en", "log", 10,
     "[2024-03-12 14:02:11] production.ERROR: Patient not found {\"bsn\":\"«bsn»\",\"exception\":"
     "\"[object] (Illuminate\\\\Database\\\\Eloquent\\\\ModelNotFoundException(code: 0): No query "
     "results for model [App\\\\Models\\\\Patient] «nine»\"}"),
    ("ho-log-k8s", "en", "log", 8,
     "E0312 14:02:11.482913       1 reflector.go:«line»] pkg/mod/k8s.io/client-go@v0.29.0/tools/cache/"
     "reflector.go:229: Failed to watch *v1.Pod: unknown (get pods)"),
    ("ho-log-spring", "en", "log", 10,
     "2024-03-12 14:02:11.482 ERROR 1 --- [nio-8080-exec-7] n.z.e.web.PatientController : Lookup "
     "failed for burgerservicenummer=«bsn», iban=«iban»"),
    ("ho-json-fhir-obs", "en", "json", 8,
     "{\"resourceType\":\"Observation\",\"status\":\"final\",\"valueQuantity\":{\"value\":6.3,"
     "\"unit\":\"mmol/L\"},\"effectiveDateTime\":\"2024-03-12T08:00:00+01:00\",\"subject\":"
     "{\"reference\":\"Patient/«uuid»\"}}"),
    ("ho-json-profile", "en", "json", 10,
     "{\"user\":{\"id\":«pid»,\"name\":\"«name»\",\"email\":\"«email»\",\"phone\":\"«phone_intl»\","
     "\"birth_date\":\"«dob_iso»\",\"iban\":\"«iban_foreign»\",\"address\":{\"postal_code\":"
     "\"«postcode»\",\"city\":\"«city»\"}}}"),
    ("ho-en-letter", "en", "message", 10,
     "Dear Dr «last»,\n\nPlease find attached the results for your patient born on «dob_en». Her "
     "mobile is «phone_e164» and she prefers contact at «email_en».\n\nKind regards,\nSecretariat"),
    ("ho-trace-node", "en", "stack_trace", 6,
     "Error: connect ECONNREFUSED 10.0.3.7:5432\n    at TCPConnectWrap.afterConnect [as oncomplete] "
     "(node:net:1595:16) {\n  errno: -111,\n  code: 'ECONNREFUSED',\n  syscall: 'connect',\n  "
     "address: '10.0.3.7',\n  port: 5432\n}"),
    ("ho-trace-dsn", "en", "stack_trace", 8,
     "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) FATAL: password authentication "
     "failed for user \"epd\"\n(Background on this error at: https://sqlalche.me/e/20/e3q8)\n"
     "DSN: postgresql://epd:«password»@db.internal:5432/epd"),
    ("ho-nl-chat", "nl", "message", 10,
     "Hoi, kun je de afspraak van mevr. «last» verzetten? Haar nummer is «phone», geb.datum "
     "«dob_dmy». Thx!"),
    ("ho-csv-header", "nl", "json", 8,
     "Naam,Geboortedatum,BSN,Telefoon\n«name»,«dob_dmy»,«bsn»,«phone»\n"),
    ("ho-log-bsn-list", "en", "log", 8,
     "«ts» INFO  batch export bsns=[«bsn»,«bsn»,«bsn»] count=3 target=«ip»"),
    ("ho-nl-polis", "nl", "clinical_note", 8,
     "Zorgverzekeraar: CZ, polisnummer «nine», UZOVI 9664. Machtiging aangevraagd op «visit_date»."),
    ("ho-nl-iban-bic", "nl", "message", 8,
     "Gelieve het bedrag over te maken naar IBAN: «iban_foreign_spaced» BIC: RABONL2U onder "
     "vermelding van «record_zp»."),
    ("ho-env-dump", "en", "log", 8,
     "DB_HOST=db.internal\nDB_PASSWORD=«password»\nAPP_KEY=«app_key»\nMAIL_FROM=«email»\nAPP_DEBUG=false"),
    ("ho-curl", "en", "log", 8,
     "curl -s -H \"Authorization: Bearer «jwt»\" https://api.example.nl/v1/me | jq ."),
    ("ho-aws", "en", "log", 6,
     "[default]\naws_access_key_id = AKIA«hex16»\naws_secret_access_key = «b64_40»\nregion = eu-west-1"),
    ("ho-nl-dag", "nl", "clinical_note", 8,
     "Mevrouw is geboren op dinsdag «dob_nl» in Paramaribo en woont sinds 1985 in Nederland."),
    ("ho-nl-toestel", "nl", "message", 8,
     "Bel bij vragen de poli op «phone» (toestel 245) of mail «email»."),
    ("ho-nl-bsn-is", "nl", "message", 8,
     "Mijn BSN is «bsn_spaced» en mijn postcode is «postcode_hn»."),
]


def render(template):
    text = ""
    spans, decoys = [], []
    pos = 0
    for part in re.split(r"(«\w+»)", template):
        if part.startswith("«") and part.endswith("»"):
            segments = PLACEHOLDERS[part[1:-1]]()
        else:
            segments = [(part, None)]
        for seg_text, label in segments:
            start = pos
            end = start + len(seg_text.encode("utf-8"))
            if label is not None:
                if label.startswith("!"):
                    decoys.append({"kind": label[1:], "start": start, "end": end})
                else:
                    spans.append({"type": label, "start": start, "end": end})
            text += seg_text
            pos = end
    return text, spans, decoys


def main():
    out = sys.stdout
    for prefix, lang, source, count, template in TEMPLATES + HELD_OUT:
        for i in range(count):
            text, spans, decoys = render(template)
            raw = text.encode("utf-8")
            for s in spans + decoys:
                assert raw[s["start"]:s["end"]].decode("utf-8")
            record = {"id": f"{prefix}-{i + 1:03d}", "lang": lang, "source": source, "text": text,
                      "spans": spans, "decoys": decoys}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
