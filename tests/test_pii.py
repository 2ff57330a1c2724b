"""The PII detector: each kind found where it is, and the look-alikes it must leave alone."""

from __future__ import annotations

import pytest

from mmo.runtime.pii import PiiFinding, contains_pii, describe_pii, detect_pii, pii_counts
from mmo.runtime.pii_checksums import card_number_valid, iban_valid, luhn_valid, us_ssn_valid
from mmo.runtime.pii_secrets import looks_random


def found(text: str) -> list[tuple[str, str]]:
    """(kind, matched text) for each finding: what a test can read at a glance."""
    return [(f.kind, text[f.start : f.end]) for f in detect_pii(text)]


# ---- positives: (text, kind, the exact span that must be found) ------------------------------

POSITIVES = [
    ("Write to john.doe+news@example.co.uk today", "email", "john.doe+news@example.co.uk"),
    ("contact: ANNA_K@mail.company-name.io.", "email", "ANNA_K@mail.company-name.io"),
    ("Call +44 20 7946 0958 after lunch", "phone", "+44 20 7946 0958"),
    ("reach us on +14155552671", "phone", "+14155552671"),
    ("dial 0049 30 1234 5678 for Berlin", "phone", "0049 30 1234 5678"),
    ("The office: (415) 555-0132.", "phone", "(415) 555-0132"),
    ("his cell is 415.555.0132", "phone", "415.555.0132"),
    ("Numéro : 01 23 45 67 89", "phone", "01 23 45 67 89"),
    ("London 020 7946 0958 or +44 (0)20 7946 0958", "phone", "020 7946 0958"),
    ("phone no. 5551234567", "phone", "5551234567"),
    ("Card 4111 1111 1111 1111, exp 12/27", "card", "4111 1111 1111 1111"),
    ("mastercard 5555-5555-5555-4444", "card", "5555-5555-5555-4444"),
    ("amex 3782 822463 10005", "card", "3782 822463 10005"),
    ("discover 6011111111111117", "card", "6011111111111117"),
    ("IBAN: DE89 3704 0044 0532 0130 00", "iban", "DE89 3704 0044 0532 0130 00"),
    ("pay GB82WEST12345698765432 now", "iban", "GB82WEST12345698765432"),
    ("FR14 2004 1010 0505 0001 3M02 606 is the account", "iban", "FR14 2004 1010 0505 0001 3M02 606"),
    ("SSN 536-22-1234 on file", "national_id", "536-22-1234"),
    ("social security number: 536221234", "national_id", "536221234"),
    ("NI number AB 12 34 56 C", "national_id", "AB 12 34 56 C"),
    ("SIN 130-692-544", "national_id", "130-692-544"),
    ("DNI 12345678Z", "national_id", "12345678Z"),
    ("NIE X1234567L", "national_id", "X1234567L"),
    ("codice fiscale RSSMRA85T10A562S", "national_id", "RSSMRA85T10A562S"),
    ("ssh to 192.168.1.20:22", "ip", "192.168.1.20"),
    ("dns 8.8.8.8.", "ip", "8.8.8.8"),
    ("host 2001:db8:85a3::8a2e:370:7334 is up", "ip", "2001:db8:85a3::8a2e:370:7334"),
    ("fe80::1ff:fe23:4567:890a%eth0", "ip", "fe80::1ff:fe23:4567:890a"),
    ("OPENAI_API_KEY=sk-proj-abc123DEF456ghi789JKL012mno", "secret", "sk-proj-abc123DEF456ghi789JKL012mno"),
    ("key sk-ant-api03-AbCdEf1234567890AbCdEf", "secret", "sk-ant-api03-AbCdEf1234567890AbCdEf"),
    ("aws AKIAIOSFODNN7EXAMPLE", "secret", "AKIAIOSFODNN7EXAMPLE"),
    ("ghp_16C7e42F292c6912E7710c838347Ae178B4a pushed", "secret", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("slack xoxb-1234567890-abcdefghij", "secret", "xoxb-1234567890-abcdefghij"),
    ("maps AIzaSyA1234567890abcdefghijklmnopqrstuv", "secret", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "secret", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    (
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "secret",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "secret", "-----BEGIN RSA PRIVATE KEY-----"),
    ("token: u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzd", "secret", "u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzd"),
    ('db password = "Tr0ub4dor&3x"', "secret", "Tr0ub4dor&3x"),
]


@pytest.mark.parametrize(("text", "kind", "span"), POSITIVES, ids=[f"{k}:{s[:24]}" for _, k, s in POSITIVES])
def test_each_kind_is_found_with_its_exact_span(text: str, kind: str, span: str) -> None:
    assert (kind, span) in found(text)


# ---- negatives: look-alikes that are not personal data ----------------------------------------

NEGATIVES = [
    "ISBN 978-3-16-148410-0 and ISBN-13 9780306406157",
    "Released on 2024-01-15, updated 15.01.2024 10:30 and 01/02/2024",
    "It costs $1,234,567.89 or € 1 234 567; in 1999 it was 250000",
    "Upgrade from 1.2.3 to 10.0.19041.1 (version 1.2.3.4, v2.0.0.1)",
    "request id 123e4567-e89b-12d3-a456-426614174000",
    "commit da39a3ee5e6b4b0d3255bfef95601890afd80709 fixed it",
    "order #555-123-4567 shipped; invoice no. 0207946095; tracking number 5551234567",
    "pi is 3.14159265358979 and e is 2.718281828459045",
    "between 1990-2000 there were 1,000,000 people; page 12-345",
    "the meeting is at 10:30:45 tomorrow; call at 10:30",
    "std::vector<int> and a::b in Rust, MAC 00:1A:2B:3C:4D:5E",
    "localhost 127.0.0.1, bind 0.0.0.0, netmask 255.255.255.0, ::1",
    "not an IP: 256.1.1.1 or 1.2.3",
    "retina icon@2x.png, decorator @app.route, user@localhost",
    "getUserAccountSettingsForCurrentTenantId2 and Llama-3.1-70B-Instruct-Turbo-2024-07-23",
    "/home/User/Projects/app2024/src/Main3.java and org_apache_commons_lang3_StringUtils",
    "password: str, api_key = os.environ['API_KEY'], secret=${SECRET}",
    "invalid SSNs 000-12-3456, 666-12-3456, 900-12-3456, 536-00-1234, 536-22-0000, 078-05-1120",
    "Luhn fails: 4111 1111 1111 1112; no network: 9999 9999 9999 9995",
    "bad IBAN DE89 3704 0044 0532 0130 01 and unknown country QQ12 3456 7890 1234",
    "not a NINO: QQ 12 34 56 C, GB 12 34 56 A; bad fiscal code RSSMRA85T10A562T",
    "scikit-learn, sk-learn-is-great, ghp_short",
    "the answer is (C), options A. 5.95 B. 8.40",
    # From real MMLU-Pro questions: a table of function values, a row of Pascal's triangle.
    "x I_o(x) I_1(x) 0.0 1.000 0.0000 + \\infty",
    "G. 1:8:28:70:56:28:8:1 H. 1:7:21:35:35:21:7:1",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_look_alikes_are_not_personal_data(text: str) -> None:
    assert found(text) == []


# ---- merging, reporting, safety ---------------------------------------------------------------


def test_findings_are_in_text_order_and_overlaps_go_to_the_most_specific_kind() -> None:
    text = "card 4111111111111111, mail a.b@example.com, ip 10.1.2.3, key AKIAIOSFODNN7EXAMPLE"
    assert [kind for kind, _ in found(text)] == ["card", "email", "ip", "secret"]
    # A Luhn-valid card is also a run of digits a phone cue could claim: the card wins.
    assert found("phone 4111 1111 1111 1111") == [("card", "4111 1111 1111 1111")]
    # A secret wins over the e-mail-like text inside it.
    assert [kind for kind, _ in found("password = abc123@example.com")] == ["secret"]


def test_a_finding_never_holds_the_value_and_summaries_give_kinds_and_counts_only() -> None:
    text = "mail jane@example.com or bob@example.org, phone +1 415 555 0132"
    findings = detect_pii(text)
    assert all("jane" not in repr(f) and "415" not in repr(f) for f in findings)
    assert findings[0] == PiiFinding("email", 5, 21)
    assert pii_counts(findings) == {"email": 2, "phone": 1}
    assert describe_pii(findings) == "email x2, phone x1"
    assert describe_pii([]) == "none"
    assert contains_pii(text) and not contains_pii("What is the capital of France?")


def test_subkinds_say_which_identifier_or_key_was_found() -> None:
    details = [f.detail for f in detect_pii("SSN 536-22-1234, NI AB123456C, AKIAIOSFODNN7EXAMPLE, 10.0.0.1")]
    assert details == ["us_ssn", "uk_nino", "aws_access_key", "ipv4"]


def test_long_prompts_keep_every_planted_finding_and_nothing_else() -> None:
    filler = "The quarterly report covers revenue, 12 regions and version 3.2.1 of the tool. " * 2000
    text = filler + "Send it to cfo@example.com. " + "9" * 5000 + " " + filler + "IBAN GB82WEST12345698765432"
    assert found(text) == [("email", "cfo@example.com"), ("iban", "GB82WEST12345698765432")]


# ---- the checks themselves --------------------------------------------------------------------


def test_check_digit_algorithms() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert card_number_valid("4111111111111111") and not card_number_valid("4444444444444444")
    assert iban_valid("NL91ABNA0417164300") and not iban_valid("NL91ABNA0417164301")
    assert not iban_valid("NL91ABNA041716430")  # one character short for NL
    assert us_ssn_valid("536", "22", "1234") and not us_ssn_valid("987", "65", "4320")


def test_random_keys_look_random_and_identifiers_do_not() -> None:
    assert looks_random("u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzd")
    assert looks_random("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==")
    assert not looks_random("HTTPServerErrorHandler2XXResponseCodes")
    assert not looks_random("A1B2C3D4E5F6G7H8I9J0K1L2")  # no lower case: not base62 or base64
    assert not looks_random("da39a3ee5e6b4b0d3255bfef95601890afd80709")


def test_real_exam_questions_hold_no_personal_data() -> None:
    """300 MMLU-Pro questions (numbers, units, tables, formulas, case law): a precision check on
    real text. (The full 11,954-question set, mmo/data/mmlu_pro.jsonl.gz, gives no finding either.)"""
    import gzip
    import json
    from importlib.resources import files

    with gzip.open(files("mmo").joinpath("data", "mmlu_pro_sample.jsonl.gz").open("rb"), "rt", encoding="utf-8") as lines:
        prompts = [json.loads(line)["prompt"] for line in lines]
    assert len(prompts) == 300
    assert [found(prompt) for prompt in prompts if found(prompt)] == []
