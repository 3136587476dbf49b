"""Scrape health: block pages, CAPTCHAs, login walls, consent walls, error pages, empty shells.

A page that is not the product page we asked for must never yield a price, but a real product
page often carries a reCAPTCHA on its review form or a cookie banner, so weak signals only count
when the page has no product data of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.etree
from lxml.html import HtmlElement

from pricehawk.extraction.page import Page, elements, text_of

# Markers that only a challenge / block page carries, whatever else is on it.
# Markers that only a challenge / block page carries. Protected *normal* pages carry look-alikes
# that must not match: Cloudflare's "/cdn-cgi/challenge-platform/scripts/jsd/" bot script and
# Imperva's "/_Incapsula_Resource?SWJIYLWA=..." script are on every page of such shops.
_STRONG_CAPTCHA = re.compile(
    r"captcha-delivery\.com|px-captcha|/cdn-cgi/challenge-platform/(?!scripts/jsd)|cf-chl-|"
    r"challenge-form|enter the characters you see below|"
    r"type the characters you see in this image|_incapsula_resource\?[^ ]*incident_id|"
    r"incapsula incident id|hcaptcha-challenge",
)
# Every _STRONG_CAPTCHA match contains one of these.
_STRONG_KEYS = ("captcha", "challenge", "cf-chl", "characters you see", "incapsula")
_CAPTCHA_TITLE = re.compile(
    r"just a moment|attention required|robot check|are you a (?:human|robot)|captcha|"
    r"verify you are (?:a )?human|human verification|security check|pardon our interruption|"
    r"bot (?:check|detection)|one more step|安全验证|人机验证|验证码",
)
_BLOCK_TITLE = re.compile(
    r"access denied|access to this page has been denied|request (?:was )?(?:blocked|rejected)|"
    r"you have been blocked|forbidden|error 1020|\b403\b|too many requests|\b429\b|"
    r"unusual traffic|rate limit",
)
_BLOCK_TEXT = re.compile(
    r"access denied|you don'?t have permission to access|the requested url was rejected|"
    r"sorry, you have been blocked|your request has been blocked|request blocked|"
    r"unusual traffic from your (?:computer )?network|automated (?:access|requests|queries)|"
    r"please enable (?:js|javascript) and disable any ad blocker|reference #\d+\.[0-9a-f]+|"
    r"support id is:|incident id|ray id",
)
_CAPTCHA_TEXT = re.compile(
    r"verify (?:that )?you(?:'re| are) (?:a )?human|are you a robot|i'?m not a robot|"
    r"complete the (?:security )?check|press (?:&|and) hold|solve (?:this|the) (?:puzzle|captcha)|"
    r"checking (?:if the site connection is secure|your browser)",
)
_WEAK_CAPTCHA = re.compile(r"g-recaptcha|h-captcha|recaptcha/api|hcaptcha\.com|geetest|turnstile")
_LOGIN_TEXT = re.compile(
    r"\b(?:sign in|log in|login|log on|anmelden|iniciar sesi[oó]n|connexion|accedi)\b",
)
_LOGIN_REQUIRED = re.compile(
    r"(?:sign|log) in to (?:continue|see|view|access)|members? only|please (?:sign|log) in|"
    r"you must be logged in|login required|sign in required|create an account to (?:see|view)",
)
_CONSENT_TEXT = re.compile(
    r"before you continue|we value your privacy|cookie (?:consent|preferences|settings)|"
    r"accept (?:all )?cookies|consent to (?:the use of )?cookies|your privacy choices|"
    r"manage (?:your )?(?:cookie|privacy|consent)|datenschutz|reject all|alle akzeptieren|"
    r"tout accepter|aceptar todas|prima di continuare|bevor sie fortfahren|avant de continuer|"
    r"antes de continuar|voordat je verdergaat|accetta e continua|accetta tutti|"
    r"accept and continue|akzeptieren und weiter|accepter et continuer|aceptar y continuar|"
    r"informativa sui cookie|utilizziamo (?:i )?cookie|accetta tutto|rifiuta tutto|"
    r"we use cookies|wij gebruiken cookies|nous utilisons des cookies|wir verwenden cookies|"
    r"(?:usamos|utilizamos) cookies|alles accepteren|aceitar todos|aceptar todo|tout refuser",
)
_CONSENT_HOST = re.compile(r"^consent\.|/consent\b|cmp\.|privacy-?gate")
_ERROR_TITLE = re.compile(
    r"\b(?:404|410|500|502|503|504)\b|not found|page (?:not found|does not exist|unavailable)|"
    r"\berror\b|something went wrong|oops|no encontrada|nicht gefunden|introuvable|"
    r"service unavailable|temporarily unavailable|under maintenance|bad gateway|be back soon|"
    r"(?:store|shop) (?:is )?(?:currently )?unavailable",
)
_ERROR_TEXT = re.compile(
    r"page (?:you (?:were )?(?:are )?looking for|you requested) (?:could not be found|"
    r"(?:does not|doesn'?t) exist|(?:is|was) not found|cannot be found|no longer exists)|"
    r"\b404\b.{0,40}not found|we couldn'?t find (?:that|this|the) page|"
    r"product (?:is )?no longer available|this (?:product|item|page) (?:is no longer|cannot be)|"
    r"down for maintenance|scheduled maintenance|(?:store|site|shop) is temporarily unavailable|"
    r"esta p[aá]gina no existe|p[aá]gina no encontrada|diese seite (?:existiert nicht|wurde nicht "
    r"gefunden)|cette page n'existe pas|questa pagina non esiste|deze pagina bestaat niet|"
    r"esta p[aá]gina n[aã]o existe|p[aá]gina n[aã]o encontrada",
)
# A product page that shows its price only to signed-in customers (B2B shops, Costco, METRO).
_LOGIN_FOR_PRICE = re.compile(
    r"(?:sign|log) ?in (?:for|to see|to view) (?:the |our |your )?prices?|"
    r"(?:sign|log) in to (?:view|see) (?:the )?price|members?[- ]only|"
    r"prices? (?:are )?(?:only )?(?:visible|shown|available) (?:to|for|after|once) "
    r"(?:logged|registered|signed|login|members)|"
    r"preise (?:\w+ ){0,4}nur für registrierte|preise (?:erst )?nach (?:dem )?(?:login|anmeldung)|"
    r"bitte melden sie sich (?:[\w-]+ ){0,5}an|"
    r"connectez-vous pour (?:voir|afficher) (?:les |le )?prix|"
    r"inicia sesi[oó]n para ver (?:el |los )?precios?|accedi per vedere (?:il |i )?prezz|"
    r"log in om (?:de )?prijs"
)
_SHELL_ROOT = re.compile(
    r"<div[^>]+id=[\"'](?:root|app|__next|__nuxt|main-app|react-root|svelte)[\"'][^>]*>\s*"
    r"(?:<!--.*?-->\s*)?</div>",
    re.DOTALL,
)
# Containers of consent managers: generic names and the common CMPs' own (Sourcepoint's
# "sp_message", OneTrust, Didomi, Usercentrics, Cookiebot, Quantcast's "qc-cmp", TrustArc).
_CONSENT_WORDS = (
    "consent", "cookie", "gdpr", "cmp", "sp_message", "onetrust", "didomi", "usercentrics",
    "truste", "privacy",
)  # fmt: skip
_CONSENT_XPATH = lxml.etree.XPath(
    "//body//*["
    + " or ".join(
        f"contains(translate(@{attr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
        f"'abcdefghijklmnopqrstuvwxyz'), '{word}')"
        for word in _CONSENT_WORDS
        for attr in ("id", "class")
    )
    + "]"
)
_NOSCRIPT_JS = re.compile(r"enable javascript|javascript (?:is )?(?:required|disabled)")


@dataclass(frozen=True)
class PageSignals:
    """Facts about a page the health classifier looks at (internal)."""

    title: str
    text: str
    raw_markers: str
    has_password_field: bool
    script_count: int
    url: str
    consent_share: float = 0.0
    text_len: int = -1  # -1: len(text)
    lead: str = ""  # the first _LONG_PAGE characters of the visible text, whatever its length


_LONG_PAGE = 3000  # characters of (roughly counted) text beyond which a page is "long"


_CHALLENGE_DIVS = lxml.etree.XPath(
    "//div[contains(@id, 'captcha') or contains(@class, 'captcha') or contains(@id, 'challenge')"
    " or contains(@class, 'challenge') or @data-sitekey]"
)


def _visible_text(body: HtmlElement, code: list[HtmlElement]) -> str:
    """Visible text of the body, whitespace-normalised: all text (serialised in C) with the
    bodies of scripts and styles (`code`) cut out (a Python walk costs more than the parse)."""
    whole = lxml.etree.tostring(body, method="text", encoding="unicode")
    for el in code:
        if el.text and el.text.strip():
            whole = whole.replace(el.text, " ", 1)
    return " ".join(whole.split())


def page_signals(page: Page) -> PageSignals:
    """Collect the title, visible text and markup markers of a page, cheaply."""
    doc = page.doc
    title: str | None = None
    markers: list[str] = []
    scripts = 0
    password = False
    for el in page.tags("title", "script", "iframe", "form", "noscript", "input"):
        tag = el.tag
        if tag == "input":
            password = password or (el.get("type") or "").lower() == "password"
        elif tag == "noscript":
            markers.append(text_of(el)[:300])
        elif tag == "title":
            if title is None:
                title = " ".join(text_of(el).split())
        else:
            scripts += tag == "script"
            markers.extend(v for v in (el.get("src"), el.get("action"), el.get("id")) if v)
    if page.source_has(b"captcha") or page.source_has(b"challenge"):
        # The XPath costs a third of the parse: only pages that name a challenge run it (a
        # Turnstile widget's data-sitekey comes with its challenges.cloudflare.com script).
        for el in elements(_CHALLENGE_DIVS, doc):
            markers.append((el.get("id") or "") + " " + (el.get("class") or ""))
    body = doc.find("body")
    text = lead = ""
    if body is not None:
        visible = _visible_text(body, page.tags("script", "style", "template"))
        size = len(visible)
        text = visible if size < _LONG_PAGE else ""  # a long page counts only for its size
        lead = visible[:_LONG_PAGE]
        text_len = size
    else:
        text_len = 0
    consent_share = 0.0
    if text_len < 200:
        # Only a nearly empty page can be an app shell (see `classify`).
        markers.extend(f'<div id="{i}"></div>' for i in doc.xpath(_EMPTY_DIV_XPATH))
    if text_len < 1500:
        # Only a short page can be a consent wall: look closer, it is cheap.
        counted: set[HtmlElement] = set()
        consent_chars = 0
        # The attribute scan below costs milliseconds on a large page; only a page whose text
        # asks for consent can be a consent wall (`classify` requires that text too).
        consent_els = (
            elements(_CONSENT_XPATH, doc) if _CONSENT_TEXT.search(text[:3000].lower()) else []
        )
        for el in consent_els:
            if not any(a in counted for a in el.iterancestors()):
                counted.add(el)
                consent_chars += len(" ".join(text_of(el).split()))
        consent_share = consent_chars / len(text) if text else 0.0
    return PageSignals(
        title=title or "",
        text=text,
        raw_markers=" ".join(markers),
        has_password_field=password,
        script_count=scripts,
        url=page.url,
        consent_share=consent_share,
        text_len=text_len,
        lead=lead,
    )


_EMPTY_DIV_XPATH = "//body//div[@id and not(*) and not(normalize-space())]/@id"


def classify(signals: PageSignals, *, has_product_data: bool) -> str:
    """ "ok" or why this page cannot be trusted for a price."""
    # Lower-cased once: the patterns are lower-case, and a case-sensitive search is several
    # times faster than an IGNORECASE one over the same alternation.
    title, markers = signals.title.lower(), signals.raw_markers.lower()
    head_text = signals.text[:3000].lower()
    size = signals.text_len if signals.text_len >= 0 else len(signals.text)
    short = size < 1500
    # Challenge and block pages: trusted whatever else the page carries. (A substring test in C
    # first: the alternation costs more than the rest of this function.)
    if any(k in markers or k in head_text for k in _STRONG_KEYS) and (
        _STRONG_CAPTCHA.search(markers) or _STRONG_CAPTCHA.search(head_text)
    ):
        return "captcha"
    if not has_product_data or short:
        if _CAPTCHA_TITLE.search(title) or (short and _CAPTCHA_TEXT.search(head_text)):
            return "captcha"
        if _BLOCK_TITLE.search(title) or (short and _BLOCK_TEXT.search(head_text)):
            return "blocked"
    if has_product_data:
        return "ok"
    # From here on the page has no product data: weaker signals decide.
    if short and _WEAK_CAPTCHA.search(markers):
        return "captcha"
    if _ERROR_TITLE.search(title) or (short and _ERROR_TEXT.search(head_text)):
        return "error_page"
    if signals.has_password_field and (
        _LOGIN_TEXT.search(title) or _LOGIN_REQUIRED.search(head_text) or short
    ):
        return "login_wall"
    if _LOGIN_REQUIRED.search(head_text) and short:
        return "login_wall"
    # Nearly every shop has a cookie banner: only a page that is mostly consent is a consent wall.
    if (_CONSENT_TEXT.search(title) or _CONSENT_HOST.search(signals.url.lower())) or (
        short and signals.consent_share > 0.6 and _CONSENT_TEXT.search(head_text)
    ):
        return "consent"
    if size < 200 and (
        _SHELL_ROOT.search(markers) or signals.script_count >= 2 or _NOSCRIPT_JS.search(markers)
    ):
        return "empty_shell"
    return "ok"


def price_behind_login(signals: PageSignals) -> bool:
    """The page says its price is shown only to signed-in customers ("Sign in for price",
    "Preise nur für registrierte Kunden"): for a page that gave no price, a login wall."""
    return bool(_LOGIN_FOR_PRICE.search(signals.lead.lower()))


def health_for_status(status: int | None) -> str:
    """What an HTTP error status means for a page whose body looked fine."""
    if status is None or status < 400:
        return "ok"
    if status in (401, 407):
        return "login_wall"
    if status in (403, 429, 451):
        return "blocked"
    return "error_page"
