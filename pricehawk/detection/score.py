"""The detector: is a new price a pricing error against the product's history?

`assess` is the whole decision on plain floats, shared by the live pipeline (through `score`,
which takes the stored history) and the backtest (which keeps the history incrementally).
How it decides, in order (docs/detection.md has the reasoning and the glitch types):

1. Reference = min(time-weighted median of the window, median of the last few prices): a
   glitch is a sudden drop from the current level, so clearance ramps, launch prices that
   settle and permanent reprices never measure against a stale, higher baseline.
2. Too small (relative or absolute) -> nothing. The same low price just before -> the
   glitch is already known. A price the page keeps returning to -> a variant's price.
3. Arithmetic signatures of a human error (decimal slip, unit price of a pack, another
   currency's number, a dropped or swapped digit) make a glitch at any depth past the minimum;
   a monthly-installment figure to the cent is a scrape error and is dropped.
4. Without a signature only a drop deeper than any sale (lightning deals reach 65%) counts,
   deeper still on a retailer's sale day, and only when the listing's own scatter (MAD) and
   the same GTIN's prices elsewhere do not explain it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from decimal import Decimal

from pricehawk.detection import signatures as sig
from pricehawk.detection.config import DetectorConfig
from pricehawk.detection.models import Anomaly, MarketContext, PricePoint, ProductInfo

DEFAULT_CONFIG = DetectorConfig()

# Types the rule validator may confirm (the vocabulary in docs/detection.md).
GLITCH_TYPES = frozenset(
    {
        "decimal_slip_10",
        "decimal_slip_100",
        "decimal_slip_1000",
        "dropped_digit",
        "swapped_digits",
        "unit_price",
        "wrong_currency",
        "extreme_discount",
        "below_market",
    }
)
# The most other retailers' prices add to an anomaly's confidence (the backtest relies on it).
PEER_BONUS = 0.05
# Recorded for operators, never confirmed by the rules: a drop that looks like a sale.
NON_GLITCH_TYPES = frozenset({"deep_discount"})


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The value at half the total weight (lower median on a tie)."""
    pairs = sorted(zip(values, weights, strict=True))
    half = sum(weights) / 2
    acc = 0.0
    for value, weight in pairs:
        acc += weight
        if acc >= half:
            return value
    return pairs[-1][0]


def median(values: Sequence[float]) -> float:
    """Plain median of a non-empty sequence."""
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def recent_level(prices: Sequence[float], points: int) -> float:
    """Median of the last `points` prices (the page's current level)."""
    return median(prices[-points:])


def _runs_near(prices: Sequence[float], price: float, tol: float) -> tuple[int, int]:
    """(how many window points sit at this price, in how many separate runs)."""
    count = runs = 0
    inside = False
    lo, hi = price * (1 - tol), price * (1 + tol)
    for p in prices:
        if lo <= p <= hi:
            count += 1
            if not inside:
                runs += 1
            inside = True
        else:
            inside = False
    return count, runs


def _confidence_from_depth(discount: float, threshold: float) -> float:
    """0.7 at the threshold rising to 1.0 at 95% off; below it, at most 0.6."""
    if discount >= threshold:
        return 0.7 + 0.3 * min(1.0, (discount - threshold) / max(0.01, 0.95 - threshold))
    return 0.3 + 0.3 * max(0.0, (discount - 0.5) / max(0.01, threshold - 0.5))


def assess(
    times: Sequence[float],
    prices: Sequence[float],
    t: float,
    price: float,
    *,
    currency: str,
    list_price: float | None = None,
    list_prices: Sequence[float | None] = (),
    pack: int | None = None,
    sale_share: float | None = None,
    peers: Sequence[float] = (),
    config: DetectorConfig = DEFAULT_CONFIG,
) -> Anomaly | None:
    """Score one new price against its history (oldest first, epoch seconds); None if normal."""
    cfg = config
    n = len(prices)
    if price <= 0:
        return None  # a zero is a placeholder page, never a deal we can tell anyone about
    usd = cfg.rate(currency) or 1.0
    if n < cfg.min_history:
        return _against_peers(price, peers, usd, currency, pack, cfg) if peers else None
    level = recent_level(prices, cfg.level_points)
    if price > (1 - cfg.min_discount) * level:
        return None  # not a sudden drop from the current level: nothing more to look at
    if abs(prices[-1] - price) <= cfg.seen_tolerance * price:
        return None  # the same low price was already there: flagged (or dismissed) then
    if n < cfg.min_window_points and peers:
        # a page this new has no usual price of its own yet: the market's speaks first
        against = _against_peers(price, peers, usd, currency, pack, cfg)
        if against is not None:
            return against

    if (level - price) * usd < cfg.min_saving_usd:
        return None  # the reference is at most the level: too small a saving either way

    start = max(bisect_left(times, t - cfg.window_s), n - cfg.max_points)
    if n - start < cfg.min_window_points:
        start = max(0, n - cfg.short_points)
    w_prices = prices[start:]
    w_times = times[start:]
    count, runs = _runs_near(w_prices, price, cfg.seen_tolerance)
    if runs >= cfg.seen_runs or count >= cfg.seen_share * len(w_prices):
        return None  # a level the page keeps returning to: another variant's price
    hl = cfg.half_life_s
    weights = [0.5 ** ((t - ti) / hl) for ti in w_times]
    # list price / price over the window, where the page shows one (inflated or honest)
    ratios = [
        lp / p
        for lp, p in zip(list_prices[start:], w_prices, strict=False)
        if lp and p > 0
    ] if list_prices and list_price is not None else []  # fmt: skip
    baseline = weighted_median(w_prices, weights)
    reference = min(baseline, level)
    discount = 1 - price / reference
    if discount < cfg.min_discount or (reference - price) * usd < cfg.min_saving_usd:
        return None

    last = prices[-1]
    recent = prices[-5:]
    shown = {*recent, level, baseline}  # prices the page showed lately
    # signatures are checked against usual prices only: a deal price as the reference makes
    # coincidences likely. The recent level counts when near the baseline or stable (a reprice).
    tail = prices[-3:]
    stable = min(tail) >= 0.98 * max(tail)
    refs = tuple(
        r for r in {last, level, baseline} if r >= 0.9 * baseline or (stable and r == level)
    )
    upper = currency.upper()
    minor = 1.0 if upper in cfg.zero_decimal else 0.01
    grid = cfg.price_grid.get(upper, 1.0)
    sale_day = sale_share is not None and sale_share >= cfg.sale_day_share
    reasons: list[str] = []
    scores: dict[str, float] = {"discount": round(discount, 4)}
    kind: str | None = None
    divisor = sig.exact_slip(price, shown, minor)
    if divisor:
        kind = f"decimal_slip_{divisor}"
        reasons.append(f"the price is a recent price's digits with the point moved {divisor}x")
    elif sig.unit_price(price, shown, pack, 0.0, minor) or (
        grid < 10 and sig.unit_price(price, refs, pack, cfg.ratio_tolerance, minor)
    ):
        # to the minor unit of any shown price, or (where prices have cents) near a usual one
        kind = "unit_price"
        reasons.append(f"the price of one of the {pack} items the title announces")
    else:
        if sig.installment(price, shown, cfg.installments, pack, minor):
            return None  # "or {price}/mo over {months} months" read as the price: scrape error
        # the shop's own cents endings: the typical prices', not a repricing bot's odd cent
        typical = [level, baseline, *(p for p in recent if recent.count(p) > 1)]
        endings = sig.endings_of(typical)
        usual = [p for p in recent if p >= 0.5 * reference] or [reference]
        moving = len(set(recent)) == len(recent) >= 4
        if moving and pack and pack >= 4 and min(recent) * 0.97 <= price * pack <= max(recent):
            # a pack's unit price of an unseen price among the recent ones (a moving page)
            kind = "unit_price"
            reasons.append(f"the price of one of the {pack} items the title announces")
        divisor = (
            None
            if kind
            else sig.loose_slip(
                price,
                usual,
                cfg.loose_slip_tolerance,
                minor,
                endings if len(endings) == 1 else None,
            )
        )
        if not divisor and not kind:
            unseen = [n for n in cfg.installments if n <= cfg.unseen_installment_max]
            if sig.typed_price(price, grid, upper in cfg.nine_endings):
                # a whole-unit figure on the grid: a payment only of a price like the recent
                plausible = (min(tail) * 0.98, max(tail) * 1.02)
                if max(tail) > 1.04 * min(tail):
                    plausible = (last * 0.98, last * 1.02)  # a page between two levels
            else:
                plausible = (cfg.installment_low * reference, cfg.installment_high * max(recent))
            if sig.installment(
                price, (), unseen, pack, minor, plausible, grid=grid, endings=endings
            ):
                return None  # the payment of a price the page moved to since we looked
        other = None
        if divisor:
            kind = f"decimal_slip_{divisor}"
            reasons.append(f"the price is the usual {reference:.2f} divided by {divisor}")
        elif discount >= cfg.min_currency_discount:
            other = sig.currency_mixup(
                price, refs, currency, cfg.rates, cfg.currency_tolerance,
                1 - cfg.min_currency_discount, cfg.mixup_sources,
            )  # fmt: skip
        if other:
            kind = "wrong_currency"
            reasons.append(f"the {other} amount shown as {upper}")
        elif kind is None:
            edit = None
            # a digit edit is evidence only of a price the page held (twice in five crawls):
            # on a listing whose price moves every crawl, the intended price is unknown
            held = [r for r in refs if recent.count(r) >= 2]
            need = cfg.min_edit_candidates * (cfg.sale_day_edit_factor if sale_day else 1.0)
            if cfg.deal_band[0] <= discount <= cfg.deal_band[1]:
                need *= cfg.deal_band_edit_factor  # where lightning deals land: coincidences
            if held and sig.free_candidates(reference, grid) >= need:
                edit = sig.digit_edit(price, held)
            if edit:
                kind = edit
                what = "a digit dropped" if edit == "dropped_digit" else "two digits swapped"
                reasons.append(f"the usual price with {what}")

    threshold = cfg.extreme_discount
    if sale_day:
        threshold += cfg.sale_day_margin
    if n < cfg.min_window_points:
        threshold += cfg.sale_day_margin  # little history: ask for more depth

    def robust_z() -> float:
        """How many MAD-scaled deviations below the baseline (the listing's own scatter)."""
        mad = weighted_median([abs(p - baseline) for p in w_prices], weights)
        return (baseline - price) / (1.4826 * mad + 1e-6 * baseline)

    if kind is not None:
        confidence = 0.85 if discount >= 0.5 else 0.75
    else:
        # a page already showing a deep deal is measured from that deal: a further drop on
        # it (a marketplace seller undercutting a lightning deal) is no deeper than a sale
        # and a list price that moved with the price says the regular price moved too (a
        # reprice or a new model): its usual ratio to the price gives the regular price now
        regular = min(reference, last)
        implied = _implied_regular(list_price, ratios)
        if implied is not None and implied < regular:
            regular = implied
            reasons.append(f"the list price now implies a regular price of {implied:.2f}")
        depth = 1 - price / regular
        if sale_day and regular < 0.9 * baseline:
            threshold -= cfg.sale_day_margin  # measured from the sale price itself already
        deep = depth >= threshold and (regular - price) * usd >= cfg.min_extreme_saving_usd
        kind = "extreme_discount" if deep else "deep_discount"
        confidence = _confidence_from_depth(depth, threshold)
        reasons.append(f"{discount:.0%} below the usual {reference:.2f}")
        if cfg.min_robust_z > 0 and robust_z() < cfg.min_robust_z:
            confidence = min(confidence, 0.5)
            reasons.append("within this listing's usual scatter")
        if sale_day:
            reasons.append(f"on a sale day ({sale_share:.0%} of the retailer discounted)")

    low = min(w_prices)
    if price < low * 0.97:
        confidence += 0.05
        reasons.append(f"a new all-time low (was {low:.2f})")
    honest = bool(ratios) and median(ratios) <= 1.15  # an inflated list price is no evidence
    if list_price is not None and honest and list_price >= reference * 0.95:
        confidence += 0.03
        reasons.append(f"{1 - price / list_price:.0%} below the list price")
    if peers:
        peer_mid = median(peers)
        scores["peer_ratio"] = round(price / peer_mid, 4)
        if price >= cfg.peer_market_share * peer_mid:
            confidence = min(confidence, 0.4)  # the market's price is no error worth a word
            reasons.append(f"other retailers sell it for {peer_mid:.2f} too")
        elif price <= cfg.peer_glitch_share * min(peers):
            confidence += PEER_BONUS
            reasons.append(f"far below other retailers ({min(peers):.2f}+)")
    confidence = round(max(0.0, min(1.0, confidence)), 3)
    if confidence < cfg.min_anomaly_confidence:
        return None
    scores["robust_z"] = round(min(robust_z(), 1e6), 2)
    return Anomaly(
        glitch_type=kind,
        confidence=confidence,
        baseline=Decimal(str(round(baseline, 4))),
        discount=round(discount, 4),
        reasons=tuple(reasons),
        scores=scores,
        reference=Decimal(str(round(reference, 4))),
    )


def _implied_regular(list_price: float | None, ratios: Sequence[float]) -> float | None:
    """The regular price the page's list price implies, from their usual ratio (3+ points)."""
    if not list_price or len(ratios) < 3:
        return None
    return list_price / median(ratios)


def _against_peers(
    price: float,
    peers: Sequence[float],
    usd: float,
    currency: str,
    pack: int | None,
    cfg: DetectorConfig,
) -> Anomaly | None:
    """Too little own history: a glitch only when far below the same GTIN everywhere else."""
    peer_mid = median(peers)
    discount = 1 - price / peer_mid
    if (
        discount < cfg.extreme_discount
        or price > cfg.peer_glitch_share * min(peers)
        or (peer_mid - price) * usd < cfg.min_saving_usd
    ):
        return None
    upper = currency.upper()
    grid = cfg.price_grid.get(upper, 1.0)
    minor = 1.0 if upper in cfg.zero_decimal else 0.01
    if not sig.typed_price(price, grid, upper in cfg.nine_endings):
        unseen = [n for n in cfg.installments if n <= cfg.unseen_installment_max]
        plausible = (cfg.installment_low * min(peers), cfg.installment_high * max(peers))
        if sig.installment(price, (), unseen, pack, minor, plausible, grid=grid):
            return None  # a new page's "or $x/mo" figure read as its price
    divisor = sig.decimal_slip(price, peers, cfg.currency_tolerance)
    kind = f"decimal_slip_{divisor}" if divisor else "below_market"
    return Anomaly(
        glitch_type=kind,
        confidence=round(min(1.0, 0.7 + 0.3 * (discount - cfg.extreme_discount) / 0.2), 3),
        baseline=Decimal(str(round(peer_mid, 4))),
        discount=round(discount, 4),
        reasons=(f"{discount:.0%} below the same product at other retailers ({peer_mid:.2f})",),
        scores={"discount": round(discount, 4), "peer_ratio": round(price / peer_mid, 4)},
        reference=Decimal(str(round(peer_mid, 4))),
    )


def score(
    history: Sequence[PricePoint],
    new: PricePoint,
    product: ProductInfo,
    market: MarketContext | None = None,
    *,
    config: DetectorConfig = DEFAULT_CONFIG,
) -> Anomaly | None:
    """An Anomaly when `new` looks like a pricing error against the product's history."""
    points = sorted(history, key=lambda p: p.observed_at)
    return assess(
        [p.observed_at.timestamp() for p in points],
        [float(p.price) for p in points],
        new.observed_at.timestamp(),
        float(new.price),
        currency=product.currency,
        list_price=float(new.list_price) if new.list_price is not None else None,
        list_prices=[float(p.list_price) if p.list_price is not None else None for p in points],
        pack=sig.pack_count(product.title),
        sale_share=market.retailer_discounted_share if market else None,
        peers=[float(p) for p in market.peer_prices] if market else (),
        config=config,
    )
