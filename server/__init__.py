"""madoguchi queue server: core, storage, event bus, real-time push, HTTP API and auth."""
