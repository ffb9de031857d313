"""eventscope's Streamlit dashboard: pages (layout) over a cached data layer and plotly charts.

Layers, each importing only those below it:

    app.py, pages/        layout: widgets, columns, messages (the only st.* users besides loaders)
    panel_data.py         what each panel shows: builds queries, loads, shapes
    loaders.py            cached fetches (the only st.cache_data user)
    sources.py            HTTP clients for Prometheus and the collector API, own error tree
    queries.py, shaping.py, journeys.py, flow.py, charts.py    pure: PromQL, pandas, plotly
"""
