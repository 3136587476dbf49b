"""Price strings, locales and currency symbols: parametrised tables."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricehawk.extraction.core import lost_decimal_reading, same_digits
from pricehawk.extraction.prices import (
    country_from_url,
    currency_for_symbol,
    decimal_separator_for,
    default_currency,
    normalise_locale,
    parse_price_text,
    parse_structured_price,
)


@pytest.mark.parametrize(
    ("text", "locale", "currency", "url", "amount", "code"),
    [
        ("$24.990", "es_CL", None, "https://www.tienda.cl/p", "24990", "CLP"),
        ("24.990", None, "CLP", "", "24990", "CLP"),
        ("$ 399.990", "es_CL", "CLP", "", "399990", "CLP"),
        ("1.299,00 €", "de_DE", None, "", "1299.00", "EUR"),
        ("1.299,00 €", None, None, "", "1299.00", "EUR"),
        ("1 299,99 €", "fr_FR", None, "", "1299.99", "EUR"),
        ("1\u202f299,99\xa0€", "fr_FR", None, "", "1299.99", "EUR"),
        ("12,50 €", "es_ES", None, "", "12.50", "EUR"),
        ("$1,299.00", "es_MX", None, "https://x.com.mx/", "1299.00", "MXN"),
        ("$1,299.00", "en_US", None, "", "1299.00", "USD"),
        ("$49.99", None, None, "https://shop.example.ca/p", "49.99", "CAD"),
        ("$49.99", None, None, "https://shop.example.com.au/p", "49.99", "AUD"),
        ("$49.99", None, None, "https://shop.example.com/p", "49.99", "USD"),
        ("C$ 49.99", None, None, "https://shop.example.com/p", "49.99", "CAD"),
        ("US$ 49.99", None, None, "https://shop.example.ca/p", "49.99", "USD"),
        ("£1,049.00", "en_GB", None, "", "1049.00", "GBP"),
        ("¥12,800", "ja_JP", None, "", "12800", "JPY"),
        ("¥128", "zh_CN", None, "", "128", "CNY"),
        ("R$ 1.299,90", "pt_BR", None, "", "1299.90", "BRL"),
        ("CHF 1'299.50", "de_CH", None, "", "1299.50", "CHF"),
        ("₹2,499", "en_IN", None, "", "2499", "INR"),
        ("1 299 kr", "sv_SE", None, "", "1299", "SEK"),
        ("299,- kr", "nb_NO", None, "", "299", "NOK"),
        ("kr. 1.499,95", "da_DK", None, "", "1499.95", "DKK"),
        ("1 299,00 zł", "pl_PL", None, "", "1299.00", "PLN"),
        ("₩45,000", "ko_KR", None, "", "45000", "KRW"),
        ("12.345.678 ₫", "vi_VN", None, "", "12345678", "VND"),
        ("$ 1.234.567", "es_CO", "COP", "", "1234567", "COP"),
        ("EUR 9.99", None, None, "", "9.99", "EUR"),
        ("19.99", None, "USD", "", "19.99", "USD"),
        ("9,99", "de", None, "", "9.99", None),
        ("€1.299", "en", None, "", "1299", "EUR"),
        ("1.250", "en", "KWD", "", "1.250", "KWD"),
    ],
)
def test_parse_price_text(
    text: str, locale: str | None, currency: str | None, url: str, amount: str, code: str | None
) -> None:
    got_amount, got_code = parse_price_text(text, locale=locale, currency=currency, url=url)
    assert got_amount == Decimal(amount)
    assert got_code == code


@pytest.mark.parametrize("text", ["", "Free", "Call for price", "N/A", "—", "price", "$"])
def test_parse_price_text_without_a_number(text: str) -> None:
    assert parse_price_text(text, locale=None, currency=None)[0] is None


@pytest.mark.parametrize(
    ("value", "currency", "locale", "amount"),
    [
        ("89.95", "USD", None, "89.95"),
        (89.95, "USD", None, "89.95"),
        (19.9, "USD", None, "19.9"),
        (27, "USD", None, "27"),
        ("24.990", "CLP", None, "24990"),
        ("24990", "CLP", "es_CL", "24990"),
        ("1.299,00", "EUR", "de", "1299.00"),
        ("$1,299.00", "USD", None, "1299.00"),
        ("1299", "EUR", "de", "1299"),
        (" 12.50 ", "GBP", None, "12.50"),
    ],
)
def test_parse_structured_price(
    value: object, currency: str, locale: str | None, amount: str
) -> None:
    assert parse_structured_price(value, currency=currency, locale=locale) == Decimal(amount)


@pytest.mark.parametrize(
    "value", [None, True, "", "free", [], {}, "-5", "NaN", "Infinity", "1e400"]
)
def test_parse_structured_price_rejects(value: object) -> None:
    assert parse_structured_price(value, currency="USD", locale=None) is None


@pytest.mark.parametrize(
    ("locale", "sep"),
    [
        ("es_CL", ","),
        ("es-cl", ","),
        ("es_MX", "."),
        ("de", ","),
        ("de_CH", "."),
        ("en_US", "."),
        ("fr", ","),
        ("pt_BR", ","),
        ("ja", "."),
        (None, None),
        ("", None),
    ],
)
def test_decimal_separator_for(locale: str | None, sep: str | None) -> None:
    assert decimal_separator_for(locale) == sep


@pytest.mark.parametrize(
    ("symbol", "locale", "url", "code"),
    [
        ("$", None, "https://a.example.ca/", "CAD"),
        ("$", "es_CL", "https://a.example.com/", "CLP"),
        ("$", None, "https://a.example.com/", "USD"),
        ("$", None, "https://a.example.com.mx/", "MXN"),
        ("€", None, "https://a.example.com/", "EUR"),
        ("kr", None, "https://a.example.dk/", "DKK"),
        ("kr", "nb_NO", "", "NOK"),
        ("¥", "zh_CN", "", "CNY"),
        ("¥", None, "https://a.example.jp/", "JPY"),
        ("usd", None, "", "USD"),
        ("R$", None, "", "BRL"),
        ("??", None, "", None),
    ],
)
def test_currency_for_symbol(symbol: str, locale: str | None, url: str, code: str | None) -> None:
    assert currency_for_symbol(symbol, locale=locale, url=url) == code


@pytest.mark.parametrize(
    ("url", "country"),
    [
        ("https://www.example.co.uk/x", "GB"),
        ("https://shop.example.com.au/", "AU"),
        ("https://example.com/", None),
        ("https://example.cl/", "CL"),
        ("not a url", None),
    ],
)
def test_country_from_url(url: str, country: str | None) -> None:
    assert country_from_url(url) == country


def test_default_currency_prefers_locale_over_domain() -> None:
    assert default_currency(locale="es_CL", url="https://example.com/") == "CLP"
    assert default_currency(locale=None, url="https://example.de/") == "EUR"
    assert default_currency(locale=None, url="https://example.com/") is None


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [("1.299", "1299.00", "1299.00"), ("129", "12900", "129"), ("1999", "19.99", "19.99")],
)
def test_lost_decimal_reading(a: str, b: str, want: str) -> None:
    assert lost_decimal_reading(Decimal(a), Decimal(b)) == Decimal(want)
    assert same_digits(Decimal(a), Decimal(b))


@pytest.mark.parametrize(
    ("raw", "norm"),
    [("es-cl", "es_CL"), ("EN_us", "en_US"), ("de", "de"), ("", None), ("123", None)],
)
def test_normalise_locale(raw: str, norm: str | None) -> None:
    assert normalise_locale(raw) == norm
