"""Usage summaries (vendor reports under `usage/`): the usage format registry. See usage.base."""
