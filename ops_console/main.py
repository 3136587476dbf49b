"""The console's script, run for every browser session: signed out, the only page is the
sign-in form; signed in, every page is declared here. `ops_console/app.py` serves it.
"""

import streamlit as st

from ops_console import data

st.set_page_config(page_title="PriceHawk console", page_icon="🦅", layout="wide")

operator = data.current_operator()
if operator is None:
    page = st.navigation([st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:")])
else:
    page = st.navigation(
        {
            "Pipeline": [
                st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:",
                        default=True),
                st.Page("pages/retailers.py", title="Retailers", icon=":material/storefront:"),
                st.Page("pages/queues.py", title="Queues", icon=":material/queue:"),
                st.Page("pages/anomalies.py", title="Anomalies & glitches",
                        icon=":material/troubleshoot:"),
                st.Page("pages/notifications.py", title="Notifications",
                        icon=":material/notifications:"),
            ],
            "Business": [
                st.Page("pages/subscribers.py", title="Subscribers & revenue",
                        icon=":material/group:"),
            ],
            "Operations": [
                st.Page("pages/airflow.py", title="Airflow", icon=":material/air:"),
                st.Page("pages/audit.py", title="Audit log", icon=":material/history:"),
            ],
        }
    )  # fmt: skip
page.run()
