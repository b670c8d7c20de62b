//! Signed notes and keys against upstream vectors: golang.org/x/mod `sumdb/note` (package doc and
//! `note_test.go`), the C2SP signed-note and tlog-checkpoint/tlog-cosignature examples,
//! transparency-dev/formats' verifier keys and cosignature timestamps, and the test key pair of
//! transparency-dev/tessera's `testdata/build_log.sh`.

use biv_integrity::tlog::{
    CosignatureVerifier, Ed25519Signer, Ed25519Verifier, KeyParseError, MAX_SIGNATURES, Note,
    NoteOpenError, NoteParseError, NoteSignature, NoteSigner, NoteVerifier,
    SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519, VerifierKey, cosignature_timestamp, key_id,
};

const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn peter() -> Ed25519Verifier {
    Ed25519Verifier::from_vkey(PETER_VKEY).expect("valid test input")
}
fn enoch() -> Ed25519Verifier {
    Ed25519Verifier::from_vkey(ENOCH_VKEY).expect("valid test input")
}
fn msg(parts: &[&str]) -> Vec<u8> {
    parts.concat().into_bytes()
}

#[test]
fn go_doc_note_is_reproduced_byte_for_byte() {
    let signer = Ed25519Signer::from_skey(PETER_SKEY).unwrap();
    assert_eq!(signer.verifier().to_vkey(), PETER_VKEY);
    let mut note = Note::new(TEXT).unwrap();
    note.sign(&[&signer]).unwrap();
    assert_eq!(note.to_bytes(), msg(&[TEXT, "\n", PETER_SIG]));
    // Re-signing replaces an existing signature by the same key (TestSign).
    let mut note = Note::new(TEXT).unwrap();
    note.add_signature(NoteSignature::new("PeterNeumann", 0xc74f20a3, vec![1, 2, 3]).unwrap());
    note.sign(&[&signer]).unwrap();
    assert_eq!(note.to_bytes(), msg(&[TEXT, "\n", PETER_SIG]));
}

#[test]
fn go_sign_rejects_bad_inputs() {
    assert!(Note::new("abc").is_err());
    assert!(NoteSignature::new("a+b", 0, vec![1]).is_err());
    #[derive(Debug)]
    struct BadName;
    impl NoteSigner for BadName {
        fn name(&self) -> &str {
            "bad name"
        }
        fn key_id(&self) -> u32 {
            0
        }
        fn sign(&self, _: &[u8]) -> Result<Vec<u8>, biv_integrity::tlog::SignError> {
            Ok(vec![0; 64])
        }
    }
    let mut note = Note::new(TEXT).unwrap();
    assert!(note.sign(&[&BadName]).is_err());
    assert!(
        note.signatures().is_empty(),
        "a failed sign leaves the note unchanged"
    );
}

#[test]
fn go_verifier_and_signer_keys_reject_every_mangling() {
    // TestNewVerifier / TestNewSigner: every proper substring and every single-byte increment
    // of the key text must be rejected.
    for (text, parse) in [
        (
            PETER_VKEY,
            (|t: &str| Ed25519Verifier::from_vkey(t).is_ok()) as fn(&str) -> bool,
        ),
        (PETER_SKEY, |t: &str| Ed25519Signer::from_skey(t).is_ok()),
    ] {
        assert!(parse(text));
        let b = text.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                let sub = String::from_utf8_lossy(&b[i..j]);
                assert!(!parse(&sub), "accepted substring {sub:?}");
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            let m = String::from_utf8_lossy(&m);
            assert!(!parse(&m), "accepted mangled {m:?}");
        }
    }
    // Wrong key length and unknown algorithm, each with an adjusted key hash.
    assert!(
        Ed25519Verifier::from_vkey(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
        .is_err()
    );
    assert_eq!(
        Ed25519Verifier::from_vkey(
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        ),
        Err(KeyParseError::WrongType {
            expected: 1,
            found: 0x65
        })
    );
}

#[test]
fn go_open_rules() {
    let (p, e) = (peter(), enoch());
    let both = msg(&[TEXT, "\n", PETER_SIG, ENOCH_SIG]);
    // One verified, one not.
    let n = Note::open(&both, &[&p]).unwrap();
    assert_eq!(n.text(), TEXT);
    assert_eq!(n.verified().len(), 1);
    assert_eq!(n.verified()[0].name(), "PeterNeumann");
    assert_eq!(n.verified()[0].key_id(), 0xc74f20a3);
    assert_eq!(n.unverified().len(), 1);
    assert_eq!(n.unverified()[0].key_id(), 0xaf0cfe78);
    // Both verified: EnochRoot's signature is the doc's re-signed example.
    let n = Note::open(&both, &[&p, &e]).unwrap();
    assert_eq!(n.verified().len(), 2);
    assert!(n.is_signed_by("EnochRoot", 0xaf0cfe78));
    // Neither.
    assert_eq!(
        Note::open(&both, &[]),
        Err(NoteOpenError::NoVerifiedSignature)
    );
    // Duplicated verifier.
    assert!(matches!(
        Note::open(&msg(&[TEXT, "\n", ENOCH_SIG]), &[&e, &p, &e]),
        Err(NoteOpenError::AmbiguousKey { .. })
    ));
    // An unused duplicated verifier does not matter.
    Note::open(&msg(&[TEXT, "\n", PETER_SIG]), &[&e, &p, &e]).unwrap();
    // Too many signatures.
    let many = msg(&[TEXT, "\n", &PETER_SIG.repeat(MAX_SIGNATURES + 1)]);
    assert_eq!(
        Note::open(&many, &[&p]),
        Err(NoteOpenError::Malformed(NoteParseError::TooManySignatures))
    );
    assert!(Note::open(&many, &[]).is_err());
    // A bad signature by a known key rejects the note.
    let bad = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert_eq!(
        Note::open(&msg(&[TEXT, "\n", &bad]), &[&p]),
        Err(NoteOpenError::InvalidSignature {
            name: "PeterNeumann".into(),
            key_id: 0xc74f20a3
        })
    );
    // Duplicated verified and unverified signatures are dropped.
    let enoch_abcd = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let dup = msg(&[
        TEXT,
        "\n",
        PETER_SIG,
        PETER_SIG,
        ENOCH_SIG,
        ENOCH_SIG,
        &enoch_abcd,
    ]);
    let n = Note::open(&dup, &[&p]).unwrap();
    assert_eq!(n.verified().len(), 1);
    assert_eq!(n.unverified().len(), 2);
    // Malformed messages.
    for bad in [
        TEXT.to_owned(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!(
            "{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ] {
        assert!(
            matches!(
                Note::open(bad.as_bytes(), &[&p]),
                Err(NoteOpenError::Malformed(_))
            ),
            "accepted {bad:?}"
        );
    }
    let mut invalid_utf8 = vec![0xff];
    invalid_utf8.extend(msg(&[TEXT, "\n", PETER_SIG]));
    assert_eq!(
        Note::parse(&invalid_utf8),
        Err(NoteParseError::InvalidUtf8 { offset: 0 })
    );
}

#[test]
fn parse_errors_say_where() {
    assert_eq!(
        Note::parse(format!("a\nb\x07\n\n{PETER_SIG}").as_bytes()),
        Err(NoteParseError::ControlCharacter { offset: 3 })
    );
    assert_eq!(
        Note::parse(format!("a\nb\n\n{PETER_SIG}- x AAAAAAA=\n").as_bytes()),
        Err(NoteParseError::NotASignatureLine { line: 5 })
    );
    assert_eq!(
        Note::parse("a\n\n— x AAAA\n".as_bytes()),
        Err(NoteParseError::InvalidSignature { line: 3 })
    );
}

#[test]
fn parsed_notes_round_trip() {
    let bytes = msg(&[TEXT, "\n", PETER_SIG, ENOCH_SIG, PETER_SIG]);
    assert_eq!(Note::parse(&bytes).unwrap().to_bytes(), bytes);
}

#[test]
fn c2sp_signed_note_example() {
    // c2sp.org/signed-note (C2SP/C2SP signed-note.md at d4c16da5): verifier key and note.
    let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    let note = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    let v = Ed25519Verifier::from_vkey(vkey).unwrap();
    assert_eq!(v.to_vkey(), vkey);
    assert_eq!(NoteVerifier::key_id(&v), 0x530d903a);
    let opened = Note::open(note.as_bytes(), &[&v]).unwrap();
    assert_eq!(opened.text(), "This is an example message.\n");
    let tampered = note.replace("example message", "example massage");
    assert!(matches!(
        Note::open(tampered.as_bytes(), &[&v]),
        Err(NoteOpenError::InvalidSignature { .. })
    ));
}

#[test]
fn c2sp_note_text_may_hold_blank_lines_and_utf8() {
    // The example at the top of C2SP signed-note.md (1f701bb5): the text has a blank line and
    // non-ASCII letters; the split is at the last blank line.
    let note = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    let parsed = Note::parse(note.as_bytes()).unwrap();
    assert_eq!(
        parsed.text(),
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    );
    assert_eq!(parsed.signatures()[0].name(), "quasimodo.example/salvatore");
    assert_eq!(parsed.signatures()[0].signature().len(), 64);
    assert_eq!(parsed.to_bytes(), note.as_bytes());
}

#[test]
fn third_party_verifier_keys() {
    // transparency-dev/formats note_cosigv1_test.go: a type-0x01 key whose base64 holds '+',
    // and a native type-0x04 cosignature key.
    let plus =
        VerifierKey::parse("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6").unwrap();
    assert_eq!(
        (plus.name(), plus.key_id(), plus.sig_type()),
        ("TEST", 0x7997405c, SIG_TYPE_ED25519)
    );
    Ed25519Verifier::from_vkey(&plus.to_string()).unwrap();
    let remora = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";
    let cosig = CosignatureVerifier::from_vkey(remora).unwrap();
    assert_eq!(cosig.to_vkey(), remora);
    assert_eq!(
        VerifierKey::parse(remora).unwrap().sig_type(),
        SIG_TYPE_COSIGNATURE_V1
    );
    assert!(matches!(
        Ed25519Verifier::from_vkey(remora),
        Err(KeyParseError::WrongType {
            expected: 1,
            found: 4
        })
    ));
    // formats' invalid keys.
    for bad in [
        "bananas.sigstore.dev+12344556",
        "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!",
        "rekor.sigstore.dev+12345678+AwEB",
    ] {
        assert!(VerifierKey::parse(bad).is_err(), "{bad}");
    }
    // The Go checksum database's published key (base64 with '+').
    let sumdb =
        VerifierKey::parse("sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8")
            .unwrap();
    assert_eq!(sumdb.key_id(), 0x033de0ae);
    assert_eq!(
        key_id(sumdb.name(), SIG_TYPE_ED25519, sumdb.public_key()),
        0x033de0ae
    );
}

#[test]
fn tessera_test_log_key_pair() {
    // transparency-dev/tessera testdata/build_log.sh: LOG_PRIVATE_KEY and LOG_PUBLIC_KEY.
    let signer = Ed25519Signer::from_skey(
        "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg",
    )
    .unwrap();
    assert_eq!(
        signer.verifier().to_vkey(),
        "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
    );
}

#[test]
fn cosignature_timestamps() {
    // c2sp.org/tlog-cosignature example: witness.example.com/w1 cosigned at 1679315147.
    let cp = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
    let note = Note::parse(cp.as_bytes()).unwrap();
    assert_eq!(note.signatures().len(), 2);
    assert_eq!(
        cosignature_timestamp(&note.signatures()[1]).unwrap(),
        1679315147
    );
    // The log's own signature is not a cosignature.
    assert!(cosignature_timestamp(&note.signatures()[0]).is_err());
    // transparency-dev/formats TestCosignatureTimestamp: "works" and "wrong type of signature".
    let works = "x\n\n— w ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==\n";
    let sig = &Note::parse(works.as_bytes()).unwrap().signatures()[0].clone();
    assert_eq!(cosignature_timestamp(sig).unwrap(), 1727964367);
    let wrong = "x\n\n— w eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY=\n";
    let sig = &Note::parse(wrong.as_bytes()).unwrap().signatures()[0].clone();
    assert!(cosignature_timestamp(sig).is_err());
}

#[test]
fn signer_debug_never_prints_the_seed() {
    let signer = Ed25519Signer::from_skey(PETER_SKEY).unwrap();
    let debug = format!("{signer:?}");
    assert!(debug.contains("PeterNeumann"));
    assert!(!debug.contains("AYEKFALV"));
    assert!(!debug.contains("810a"), "no hex of the seed either");
}
