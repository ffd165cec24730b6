"""The sitless dashboard: a multipage Streamlit app over the store (entrypoint ``dashboard/app.py``)."""
