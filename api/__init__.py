"""The inference API: one ASGI app served by uvicorn or Ray Serve, and the client bots use."""
