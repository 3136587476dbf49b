"""Subscribers & revenue: counts and MRR by tier, churn, failed payments."""

import pandas as pd
import streamlit as st

from ops_console import data
from pricehawk.tiers import TIERS

data.require_operator()
st.title("Subscribers & revenue")


@st.fragment(run_every=data.refresh_s())
def live() -> None:
    s = data.subscribers()
    c = st.columns(5)
    c[0].metric(
        "Subscribers", sum(s.users_by_tier.values()), help=f"plus {s.demo_users} demo accounts"
    )
    c[1].metric("Paying", sum(s.active_by_tier.values()))
    c[2].metric("MRR", f"${s.mrr:,.2f}")
    c[3].metric("Churn (30 d)", data.pct(s.churn_rate_30d), help=f"{s.churned_30d} ended")
    c[4].metric(
        "Failed payments (30 d)",
        s.failed_payments_30d,
        help=f"{s.past_due} subscriptions past due now",
    )
    df = pd.DataFrame(
        [
            {
                "tier": t,
                "accounts": s.users_by_tier.get(t, 0),
                "paying": s.active_by_tier.get(t, 0),
                "MRR ($)": float(s.mrr_by_tier.get(t, 0)),
            }
            for t in TIERS
        ]
    )
    left, right = st.columns(2)
    left.dataframe(df, hide_index=True)
    right.bar_chart(df.set_index("tier")["MRR ($)"], height=220)
    st.caption(
        "MRR counts active, trialing and past-due subscriptions; annual plans as a"
        " twelfth of their price. Churn: subscriptions ended in 30 days among those billed."
    )
    data.updated_caption()


live()
