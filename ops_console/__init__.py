"""The operator console (Streamlit): `pricehawk console` runs `streamlit run ops_console/app.py`."""
