"""The operator console's domain side: queries, operator actions (audited), masking, alerts.

Framework-free: the Streamlit app in ops_console/ calls these and holds no SQL.
"""
