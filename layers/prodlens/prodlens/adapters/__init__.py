"""boto3 adapters behind prodlens.ports; every client is injectable."""
