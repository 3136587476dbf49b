"""Price strings to exact decimals, and currency symbols to ISO 4217 codes.

Everything here is a pure function of plain values: the page's locale, its domain and an optional
currency hint decide how "24.990" or "$" are read.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from urllib.parse import urlsplit

from price_parser import Price

# Currencies whose prices are written without minor units in practice, so a separator followed by
# exactly three digits is a thousands separator ("24.990" CLP is twenty-four thousand).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"CLP", "JPY", "KRW", "VND", "ISK", "PYG", "UGX", "IDR", "COP", "HUF", "XOF", "XAF", "TWD"}
)

# Languages that write the decimal separator as a comma (CLDR); a region can override below.
_COMMA_DECIMAL_LANGS = frozenset(
    {
        "af", "az", "be", "bg", "bs", "ca", "cs", "da", "de", "el", "es", "et", "eu", "fi", "fo",
        "fr", "gl", "hr", "hu", "hy", "id", "is", "it", "ka", "kk", "ky", "lt", "lv", "mk", "mn",
        "nb", "nl", "nn", "no", "pl", "pt", "ro", "ru", "sk", "sl", "sq", "sr", "sv", "tr", "uk",
        "uz", "vi",
    }
)  # fmt: skip
# Regions whose convention differs from their language's (CLDR): Mexican, Swiss, Peruvian...
_DOT_DECIMAL_REGIONS = frozenset(
    {"es_MX", "es_US", "es_PE", "es_GT", "es_DO", "es_PR", "de_CH", "fr_CH", "it_CH", "es_HN",
     "es_NI", "es_SV", "es_PA", "de_LI"}
)  # fmt: skip

# Country code (from a locale region or a ccTLD) -> the local currency.
COUNTRY_CURRENCY: dict[str, str] = {
    "US": "USD", "CA": "CAD", "MX": "MXN", "GB": "GBP", "UK": "GBP", "IE": "EUR", "DE": "EUR",
    "FR": "EUR", "ES": "EUR", "IT": "EUR", "NL": "EUR", "BE": "EUR", "AT": "EUR", "PT": "EUR",
    "FI": "EUR", "GR": "EUR", "SK": "EUR", "SI": "EUR", "LU": "EUR", "EE": "EUR", "LV": "EUR",
    "LT": "EUR", "HR": "EUR", "CY": "EUR", "MT": "EUR", "CH": "CHF", "SE": "SEK", "NO": "NOK",
    "DK": "DKK", "IS": "ISK", "PL": "PLN", "CZ": "CZK", "HU": "HUF", "RO": "RON", "BG": "BGN",
    "TR": "TRY", "RU": "RUB", "UA": "UAH", "AU": "AUD", "NZ": "NZD", "JP": "JPY", "CN": "CNY",
    "HK": "HKD", "TW": "TWD", "KR": "KRW", "SG": "SGD", "MY": "MYR", "TH": "THB", "VN": "VND",
    "ID": "IDR", "PH": "PHP", "IN": "INR", "PK": "PKR", "AE": "AED", "SA": "SAR", "IL": "ILS",
    "EG": "EGP", "ZA": "ZAR", "NG": "NGN", "KE": "KES", "BR": "BRL", "AR": "ARS", "CL": "CLP",
    "CO": "COP", "PE": "PEN", "UY": "UYU", "PY": "PYG", "BO": "BOB", "EC": "USD", "CR": "CRC",
}  # fmt: skip

# Symbols that name one currency wherever they appear.
_UNAMBIGUOUS_SYMBOLS: dict[str, str] = {
    "€": "EUR", "£": "GBP", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY", "₪": "ILS",
    "฿": "THB", "₫": "VND", "₱": "PHP", "₴": "UAH", "zł": "PLN", "kč": "CZK", "ft": "HUF",
    "lei": "RON", "r$": "BRL", "us$": "USD", "c$": "CAD", "ca$": "CAD", "cad$": "CAD",
    "a$": "AUD", "au$": "AUD", "nz$": "NZD", "hk$": "HKD", "s$": "SGD", "sg$": "SGD",
    "mx$": "MXN", "rm": "MYR", "rp": "IDR", "s/": "PEN", "s/.": "PEN",
    "chf": "CHF", "fr.": "CHF", "eur": "EUR", "usd": "USD", "gbp": "GBP", "cad": "CAD",
    "aud": "AUD", "clp": "CLP", "mxn": "MXN", "brl": "BRL", "jpy": "JPY", "sek": "SEK",
    "nok": "NOK", "dkk": "DKK", "pln": "PLN", "czk": "CZK", "ars": "ARS", "cop": "COP",
    "inr": "INR", "nzd": "NZD", "chf.": "CHF", "円": "JPY", "元": "CNY", "руб": "RUB",
    "руб.": "RUB", "원": "KRW", "лв": "BGN", "лв.": "BGN", "grn": "UAH", "грн": "UAH",
    "€uro": "EUR", "₸": "KZT", "₦": "NGN", "ksh": "KES", "dh": "MAD", "tl": "TRY",
    "nt$": "TWD", "rd$": "DOP", "৳": "BDT", "₨": "PKR", "kn": "EUR", "dkr": "DKK",
    "skr": "SEK", "nkr": "NOK",
}  # fmt: skip

# "$" means the local dollar (or peso) where one exists; elsewhere the US dollar.
_DOLLAR_COUNTRIES = frozenset(
    {"US", "CA", "MX", "AU", "NZ", "HK", "SG", "TW", "AR", "CL", "CO", "UY", "EC"}
)
_KRONA_COUNTRIES = {"SE": "SEK", "NO": "NOK", "DK": "DKK", "IS": "ISK"}

# Second-level parts under which the real country code is the last label ("co.uk", "com.au").
_GENERIC_TLDS = frozenset(
    {"com", "net", "org", "io", "shop", "store", "app", "co", "info", "biz", "ai", "me", "tv",
     "cc", "fm", "ly", "to", "gg", "so", "sh", "ws", "la", "eu", "xyz", "online", "site"}
)  # fmt: skip

_PENCE = re.compile(r"(\d{1,2})\s*(p|¢)")
# One separator followed by exactly two digits: the decimal separator, whatever the locale says.
_DOT_CENTS = re.compile(r"[^\d.,]*\d+\.\d{2}[^\d.,]*")
_COMMA_CENTS = re.compile(r"[^\d.,]*\d+,\d{2}[^\d.,]*")
_PLAIN_NUMBER = re.compile(r"^\s*-?\d+(?:\.\d+)?\s*$")
_DIGIT = re.compile(r"\d")


_RANGE = re.compile(
    r"\d[^\d]{0,6}(?:\s[-–—]\s?|\s?[–—~～〜]\s?|\sto\s|\sbis\s|\sà\s|\sa\s)[^\d]{0,6}\d"
)


_RANGE_SEP = re.compile(r"\s[-–—]\s?|\s?[–—~～〜]\s?|\sto\s|\sbis\s|\sà\s|\sa\s")


def split_price_range(text: str) -> tuple[str, str] | None:
    """ "$20.00 – $35.00" -> ("$20.00", "$35.00"); None when the text is not a range."""
    m = _RANGE.search(text)
    if m is None:
        return None
    sep = _RANGE_SEP.search(text, m.start())
    if sep is None:
        return None
    return text[: sep.start()], text[sep.end() :]


def is_price_range(text: str) -> bool:
    """ "$20.00 – $35.00", "19,99 bis 29,99 €": two amounts as a range."""
    return bool(_RANGE.search(text))


# Extraction asks this of the same page URL a few times per page; a few slots cover a page.
@lru_cache(maxsize=8)
def country_from_url(url: str) -> str | None:
    """The country a URL's ccTLD points at ("x.com.au" -> "AU"), or None for generic TLDs."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host or "." not in host:
        return None
    tld = host.rsplit(".", 1)[1]
    if tld in _GENERIC_TLDS or len(tld) != 2:
        return None
    country = tld.upper()
    return "GB" if country == "UK" else country


@lru_cache(maxsize=512)  # a few hundred locales exist; pages repeat them
def country_from_locale(locale: str | None) -> str | None:
    """The region of a locale ("es_CL", "es-cl" -> "CL")."""
    if not locale:
        return None
    parts = re.split(r"[-_]", locale.strip())
    if len(parts) >= 2 and len(parts[-1]) == 2 and parts[-1].isalpha():
        return parts[-1].upper()
    return None


@lru_cache(maxsize=512)  # a few hundred locales exist; pages repeat them
def normalise_locale(locale: str | None) -> str | None:
    """ "es-cl" -> "es_CL"; "de" -> "de"; junk -> None."""
    if not locale:
        return None
    parts = [p for p in re.split(r"[-_]", locale.strip()) if p]
    if not parts or not parts[0].isalpha() or len(parts[0]) > 3:
        return None
    lang = parts[0].lower()
    region = country_from_locale(locale)
    return f"{lang}_{region}" if region else lang


@lru_cache(maxsize=512)  # a few hundred locales exist; pages repeat them
def decimal_separator_for(locale: str | None) -> str | None:
    """The locale's decimal separator ("," or "."), or None when the locale says nothing."""
    norm = normalise_locale(locale)
    if norm is None:
        return None
    if norm in _DOT_DECIMAL_REGIONS:
        return "."
    lang = norm.split("_", 1)[0]
    return "," if lang in _COMMA_DECIMAL_LANGS else "."


def currency_for_symbol(symbol: str | None, *, locale: str | None, url: str) -> str | None:
    """Map a currency symbol or code to ISO 4217 using the locale and the domain."""
    if not symbol:
        return None
    sym = symbol.strip().lower()
    if len(sym) == 3 and sym.isalpha() and sym.upper() in _ISO_CODES:
        return sym.upper()
    if sym in _UNAMBIGUOUS_SYMBOLS:
        return _UNAMBIGUOUS_SYMBOLS[sym]
    country = country_from_locale(locale) or country_from_url(url)
    if sym in {"$", "＄"}:
        if country in _DOLLAR_COUNTRIES:
            return COUNTRY_CURRENCY[country]
        return "USD"
    if sym in {"¥", "￥"}:
        return "CNY" if country == "CN" or (locale or "").lower().startswith("zh") else "JPY"
    if sym in {"kr", "kr.", ":-"}:
        return _KRONA_COUNTRIES.get(country or "", "SEK")
    if sym in {"rs", "rs."}:
        return {"PK": "PKR", "LK": "LKR", "NP": "NPR", "MU": "MUR"}.get(country or "", "INR")
    if sym == "r":
        return "ZAR"
    return None


def default_currency(*, locale: str | None, url: str) -> str | None:
    """The currency a page most likely uses when it never says (from locale, then domain)."""
    country = country_from_locale(locale) or country_from_url(url)
    return COUNTRY_CURRENCY.get(country) if country else None


def normalise_currency(value: object, *, locale: str | None, url: str) -> str | None:
    """A structured-data currency value ("usd", "US$", "€") as an ISO code, or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 8:
        return None
    return currency_for_symbol(text, locale=locale, url=url)


# Currencies with three minor digits, where "1.250" really is one and a quarter.
THREE_DECIMAL_CURRENCIES = frozenset({"KWD", "BHD", "OMR", "JOD", "TND", "LYD", "IQD"})


def _zero_decimal_fix(text: str, amount: Decimal, currency: str | None) -> Decimal:
    """Read "24.990" / "24,990" as thousands for currencies without minor units."""
    if currency not in ZERO_DECIMAL_CURRENCIES:
        return amount
    m = re.search(r"\d[.,](\d+)\s*$", text.strip())
    if m and len(m.group(1)) == 3 and amount != amount.to_integral_value():
        digits = re.sub(r"[^\d]", "", text)
        try:
            return Decimal(digits)
        except InvalidOperation:
            return amount
    return amount


def _clean(amount: Decimal | None) -> Decimal | None:
    """Reject amounts that cannot be a retail price (negative, absurd, NaN)."""
    if amount is None or not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        return None
    return amount


def parse_structured_price(
    value: object, *, currency: str | None, locale: str | None
) -> Decimal | None:
    """A schema.org price value (number or string) as a Decimal.

    schema.org asks for "." as the decimal separator, so a plain number is taken literally; a
    formatted string ("1.299,00", "$12.99") falls back to the locale-aware parser.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return _clean(Decimal(value))
    if isinstance(value, float):
        # 19.990000000000002 is a float artefact of 19.99: six places keep real sub-cent prices.
        return _clean(Decimal(repr(round(value, 6))))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if _PLAIN_NUMBER.match(text):
        try:
            plain = Decimal(text)
        except InvalidOperation:
            return None
        return _clean(_zero_decimal_fix(text, plain, currency))
    amount, found = parse_price_text(text, locale=locale, currency=None)
    if found is None and re.search(r"[A-Za-z]", text):
        return None  # words without a currency ("1e400", "call us"): not a price value
    if amount is not None and currency in ZERO_DECIMAL_CURRENCIES:
        return _clean(_zero_decimal_fix(text, amount, currency))
    return amount


def parse_price_text(
    text: str, *, locale: str | None, currency: str | None, url: str = ""
) -> tuple[Decimal | None, str | None]:
    """Visible price text ("1.299,00 €", "$24.990") -> (amount, ISO currency or None)."""
    if not text or not _DIGIT.search(text):
        return None, None
    text = text.strip()[:200]
    pence = _PENCE.fullmatch(text)
    if pence:
        # "85p", "99¢": minor units only.
        unit = (
            "GBP"
            if pence.group(2) == "p"
            else (currency or default_currency(locale=locale, url=url))
        )
        return _clean(Decimal(pence.group(1)) / 100), unit
    sep = decimal_separator_for(locale)
    if sep == "," and _DOT_CENTS.fullmatch(text):
        sep = "."  # "2.99" on a German page (Lidl): a group of two digits is never thousands
    elif sep == "." and _COMMA_CENTS.fullmatch(text):
        sep = ","  # "12,99 €" on an English-language page
    price = Price.fromstring(text, currency_hint=currency, decimal_separator=sep)
    amount = price.amount
    cur = currency_for_symbol(price.currency, locale=locale, url=url) if price.currency else None
    if amount is None:
        return None, cur
    effective = cur or currency
    if (
        sep == "."
        and effective not in THREE_DECIMAL_CURRENCIES
        and amount.as_tuple().exponent == -3
        and amount >= 1
        and re.fullmatch(r"[^\d]*\d{1,3}\.\d{3}[^\d.,]*", text)
    ):
        # "€1.299" on an English-language page: a thousands separator, not a 3-decimal price.
        amount = (amount * 1000).to_integral_value()
    if sep is None:
        # Without a locale price-parser guesses; a lone ".123" / ",123" is its thousands guess,
        # which is right for zero-decimal currencies and also what most shops mean.
        amount = _zero_decimal_fix(price.amount_text or text, amount, effective)
    elif effective in ZERO_DECIMAL_CURRENCIES:
        amount = _zero_decimal_fix(price.amount_text or text, amount, effective)
    return _clean(amount), cur


# Active ISO 4217 codes (a code on the page is taken as it is).
_ISO_CODES = frozenset(
    re.findall(
        r"[A-Z]{3}",
        """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""",
    )
)
