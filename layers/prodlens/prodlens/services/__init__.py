"""Use cases: one per Lambda function, wiring the domain to the adapters."""
