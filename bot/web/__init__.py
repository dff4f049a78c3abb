"""The web page: the chat simulator, health, downloads and the HTTP API."""
