"""Streamlit helpers shared by the pages: session state, sidebar and plots. Only the app imports it."""
