"""eventscope's Streamlit dashboard: pages (layout) over a cached data layer and plotly charts.

Layers, each importing only those below it:

    app.py, layout.py, views/
                          layout: entry script, shared sidebar, one script per page. The
                          folder is views/, not pages/: a pages/ folder next to the entry
                          script makes Streamlit serve the first request in its old file-based
                          mode, bypassing st.navigation and the shared sidebar.
    panel_data.py         what each panel shows: builds queries, loads, shapes
    loaders.py            cached fetches (the only st.cache_data user)
    sources.py            HTTP clients for Prometheus and the collector API, own error tree
    queries.py, shaping.py, journeys.py, flow.py, charts.py    pure: PromQL, pandas, plotly
"""
