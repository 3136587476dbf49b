"""Retailers: last run, pages, items, failures by reason, block rate, proxy health and the
circuit breaker, with pause / resume and crawl now."""

import pandas as pd
import streamlit as st

from ops_console import data
from pricehawk.console import actions

operator = data.require_operator()
st.title("Retailers")
data.show_flash()


@st.fragment(run_every=data.refresh_s())
def live() -> None:
    rows = data.retailers()
    if not rows:
        st.info("No retailers yet: `pricehawk crawl` or the crawl DAG registers them.")
        return
    table = pd.DataFrame(
        [
            {
                "retailer": r.slug,
                "state": "paused" if r.paused else "active",
                "breaker": r.circuit_state
                + (f" ({r.failed_runs} failed)" if r.failed_runs else ""),
                "last run": (
                    f"{r.last_run.status}, {data.ago(r.last_run.started_at)}"
                    if r.last_run
                    else "none recorded"
                ),
                "last price": data.ago(r.last_price_at),
                "products": r.products,
                "runs 24 h": r.runs_24h,
                "pages 24 h": r.pages_24h,
                "items 24 h": r.items_24h,
                "block rate": data.pct(r.block_rate),
                "failures 24 h": sum(r.failures.values()),
                "fetch errors": sum(r.fetch_errors.values()),
            }
            for r in rows
        ]
    )
    st.dataframe(table, hide_index=True)
    for r in rows:
        with st.expander(f"{r.name} ({r.slug}) — details"):
            c = st.columns(3)
            with c[0]:
                st.markdown("**Failures by reason (24 h)**")
                if r.failures:
                    st.dataframe(
                        pd.DataFrame(r.failures.items(), columns=["reason", "count"]),
                        hide_index=True,
                    )
                else:
                    st.caption("none recorded")
                st.markdown("**Products' last fetch errors**")
                if r.fetch_errors:
                    st.dataframe(
                        pd.DataFrame(r.fetch_errors.items(), columns=["error", "products"]),
                        hide_index=True,
                    )
                else:
                    st.caption("none")
            with c[1]:
                st.markdown("**Proxy health (last run)**")
                if r.proxy:
                    st.dataframe(
                        pd.DataFrame(r.proxy.items(), columns=["stat", "value"]), hide_index=True
                    )
                else:
                    st.caption("no proxy statistics recorded")
                st.markdown("**Circuit breaker**")
                st.write(
                    f"{r.circuit_state}; {r.failed_runs} consecutive failed runs"
                    + (
                        f"; retry at {r.circuit_retry_at:%Y-%m-%d %H:%M} UTC"
                        if r.circuit_retry_at
                        else ""
                    )
                )
            with c[2]:
                st.markdown("**Schedule**")
                st.write(f"every {data.secs(r.crawl_interval_s)} · {r.fetch_mode} fetch")
                st.write(
                    f"last crawl {data.ago(r.last_crawl_at)} · "
                    f"last success {data.ago(r.last_success_at)}"
                )
    data.updated_caption()


live()

st.subheader("Act on a retailer")
if not operator.can_act:
    st.info("Your account is read-only (viewer).")
slugs = [r.slug for r in data.retailers()]
if slugs:
    slug = st.selectbox("Retailer", slugs, key="retailer_pick")
    st.text_input("Note for the audit log", key="retailer_note")
    c = st.columns(3)
    c[0].button(
        "Pause",
        key="pause",
        disabled=not operator.can_act,
        on_click=data.act,
        args=(actions.set_paused, slug, True),
        kwargs={"note_key": "retailer_note"},
    )
    c[1].button(
        "Resume",
        key="resume",
        disabled=not operator.can_act,
        on_click=data.act,
        args=(actions.set_paused, slug, False),
        kwargs={"note_key": "retailer_note"},
    )
    c[2].button(
        "Crawl now",
        key="crawl_now",
        disabled=not operator.can_act,
        on_click=data.act,
        args=(actions.crawl_now, slug),
        kwargs={"with_settings": True, "note_key": "retailer_note"},
    )
    st.caption(
        "Pause: the scheduler skips it until resumed. Crawl now: queued for the crawler workers"
        " at once (distributed mode) or due at the crawl DAG's next tick (in-process mode)."
    )
