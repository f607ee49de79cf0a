"""Authentication and authorization for the gateway's HTTP API."""
