"""The collector's listener: uvicorn serving the Starlette app of `collector.http_api`.

config.py   the `web:` section and the exporter-toolkit web config file (TLS, mTLS, basic auth)
auth.py     basic auth against bcrypt hashes, with a small cache of verified passwords
limits.py   ASGI middleware: the cap on concurrent requests and the authorization gate
server.py   socket, uvicorn and the connection timers; started and stopped in-process
"""
