"""Sign in with an operator account (`pricehawk operator create`)."""

import streamlit as st

from ops_console import data

st.title("PriceHawk console")
st.write("Sign in with your operator account.")
with st.form("sign_in"):
    username = st.text_input("Username", key="username", autocomplete="username")
    password = st.text_input(
        "Password", type="password", key="password", autocomplete="current-password"
    )
    submitted = st.form_submit_button("Sign in")
if submitted:
    error = data.do_sign_in(username, password)
    if error:
        st.error(error)
    else:
        st.rerun()
st.caption("No account? An administrator creates one with `pricehawk operator create`.")
